"""Routers and floating IPs in the database (Neutron's L3 plugin), inside a caller's transaction.

A router's interfaces are ports on tenant networks holding each subnet's gateway
address (``device_owner`` ``network:router_interface``); its gateway is a port on
an external network (``network:router_gateway``); a floating IP is a port on an
external network (``network:floatingip``) whose address the router translates to
a fixed address behind one of its interfaces. Gateway and floating IP ports
belong to no project, as in Neutron, so they count against no port quota and
stay out of the users' port lists.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api.policy import enforce
from cumulo.config import NetworkSettings
from cumulo.context import RequestContext
from cumulo.db.base import new_uuid
from cumulo.db.models.instances import Instance
from cumulo.db.models.network import FloatingIP, IPAllocation, Network, Port, Router, Subnet
from cumulo.network import access, fixed_ips, ipam, nw_info, port_store, quotas
from cumulo.network.errors import (
    BadRequest,
    ExternalGatewayForFloatingIPNotFound,
    FloatingIPNotFound,
    FloatingIPPortAlreadyAssociated,
    IpAddressAlreadyAllocated,
    PortInUse,
    RouterExternalGatewayInUseByFloatingIp,
    RouterInterfaceInUseByFloatingIP,
    RouterInterfaceNotFound,
    RouterInterfaceNotFoundForSubnet,
    RouterInUse,
    RouterNotFound,
)

ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATINGIP_OWNER = "network:floatingip"
SERVICE_OWNERS = frozenset((ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATINGIP_OWNER))
"""Ports the router and floating IP API own: the port API may not delete them."""
NO_PROJECT = ""
"""The project of gateway and floating IP ports."""


@dataclass(frozen=True)
class Interface:
    """What ``add_router_interface`` and ``remove_router_interface`` answer."""

    router: Router
    port: Port
    subnet_ids: list[str]

    def body(self) -> dict[str, Any]:
        return {
            "id": self.router.id,
            "tenant_id": self.router.project_id,
            "project_id": self.router.project_id,
            "port_id": self.port.id,
            "network_id": self.port.network_id,
            "subnet_id": self.subnet_ids[0] if self.subnet_ids else None,
            "subnet_ids": self.subnet_ids,
        }


def _router_request(msg: str) -> BadRequest:
    return BadRequest(resource="router", msg=msg)


def _floatingip_request(msg: str) -> BadRequest:
    return BadRequest(resource="floatingip", msg=msg)


# --- routers ---------------------------------------------------------------------------------


async def get_router(session: AsyncSession, ctx: RequestContext, router_id: str) -> Router:
    row = await session.get(Router, router_id)
    if row is None or not (ctx.is_admin or row.project_id == ctx.project_id):
        raise RouterNotFound(router_id=router_id)
    return row


async def gateway_ips(
    session: AsyncSession, routers: list[Router]
) -> dict[str, list[IPAllocation]]:
    """Each router's gateway addresses, by router id."""
    ports = {r.gw_port_id: r.id for r in routers if r.gw_port_id}
    if not ports:
        return {}
    found = await port_store.ips_of(session, list(ports))
    return {ports[port_id]: ips for port_id, ips in found.items()}


async def set_gateway(
    session: AsyncSession,
    ctx: RequestContext,
    settings: NetworkSettings,
    router: Router,
    info: dict[str, Any] | None,
) -> None:
    """Give ``router`` the gateway ``info`` (``external_gateway_info``), or none when empty."""
    if not info:
        await _clear_gateway(session, router)
        return
    unknown = sorted(set(info) - {"network_id", "enable_snat", "external_fixed_ips"})
    if unknown or not isinstance(info.get("network_id"), str):
        raise _router_request(f"Invalid external_gateway_info: {info}")
    if "enable_snat" in info:
        enforce(ctx, "network:router:enable_snat")
    requested = info.get("external_fixed_ips")
    if requested is not None:
        enforce(ctx, "network:router:external_fixed_ips")
        if not isinstance(requested, list):
            raise _router_request(f"Invalid external_fixed_ips: {requested}")
    network = await access.get_network(session, ctx, info["network_id"])
    if not network.external:
        raise _router_request(f"Network {network.id} is not an external network")
    if router.external_network_id != network.id or requested is not None:
        if router.external_network_id != network.id:
            await _check_no_floating_ips(session, router)
        await _remove_gateway_port(session, router)
        port = await _new_port(session, settings, network, NO_PROJECT, router.id, ROUTER_GATEWAY)
        await fixed_ips.allocate(session, network.id, port.id, requested)
        router.external_network_id = network.id
        router.gw_port_id = port.id
    router.enable_snat = bool(info.get("enable_snat", True))


async def _clear_gateway(session: AsyncSession, router: Router) -> None:
    if router.external_network_id is None:
        return
    await _check_no_floating_ips(session, router)
    await _remove_gateway_port(session, router)
    router.external_network_id = None
    router.enable_snat = True


async def _check_no_floating_ips(session: AsyncSession, router: Router) -> None:
    used = await session.scalar(select(FloatingIP.id).where(FloatingIP.router_id == router.id))
    if used is not None:
        raise RouterExternalGatewayInUseByFloatingIp(
            router_id=router.id, net_id=router.external_network_id
        )


async def _remove_gateway_port(session: AsyncSession, router: Router) -> None:
    if router.gw_port_id is None:
        return
    port = await session.get(Port, router.gw_port_id)
    if port is not None:
        await port_store.remove(session, port)
    router.gw_port_id = None


async def _new_port(
    session: AsyncSession,
    settings: NetworkSettings,
    network: Network,
    project_id: str,
    device_id: str,
    device_owner: str,
) -> Port:
    """A port of the router or floating IP machinery, without addresses yet."""
    if project_id != NO_PROJECT:
        await quotas.check_quota(session, settings, project_id, "port")
    port = Port(
        id=new_uuid(),
        project_id=project_id,
        network_id=network.id,
        mac_address=ipam.new_mac(),
        device_id=device_id,
        device_owner=device_owner,
        status="ACTIVE",
        port_security_enabled=False,
        security_groups=[],
    )
    session.add(port)
    await session.flush()
    return port


async def interface_ports(session: AsyncSession, router_ids: list[str]) -> list[Port]:
    return list(
        await session.scalars(
            select(Port).where(
                Port.device_id.in_(router_ids), Port.device_owner == ROUTER_INTERFACE
            )
        )
    )


async def _interface_subnets(session: AsyncSession, router: Router) -> dict[str, Subnet]:
    """The subnets ``router`` has an interface on, by id."""
    ports = await interface_ports(session, [router.id])
    if not ports:
        return {}
    rows = await session.scalars(
        select(Subnet)
        .join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
        .where(IPAllocation.port_id.in_([p.id for p in ports]))
    )
    return {s.id: s for s in rows}


async def add_interface(
    session: AsyncSession,
    ctx: RequestContext,
    settings: NetworkSettings,
    router: Router,
    body: Any,
) -> Interface:
    """Attach ``router`` to a subnet (a new port with its gateway address) or to a port."""
    subnet_id, port_id = _interface_request(body)
    attached = await _interface_subnets(session, router)
    if subnet_id is not None:
        subnet = await access.get_subnet(session, ctx, subnet_id)
        if subnet.gateway_ip is None:
            raise _router_request("Subnet for router interface must have a gateway IP")
        _check_overlap(router, attached, [subnet])
        network = await session.get(Network, subnet.network_id)
        assert network is not None
        port = await _new_port(
            session, settings, network, router.project_id, router.id, ROUTER_INTERFACE
        )
        await _hold_address(session, subnet, port, subnet.gateway_ip)
        return Interface(router, port, [subnet.id])
    assert port_id is not None
    port = await access.get_port(session, ctx, port_id)
    if port.device_id:
        raise PortInUse(port_id=port.id, net_id=port.network_id, device_id=port.device_id)
    ips = (await port_store.ips_of(session, [port.id])).get(port.id, [])
    if not ips:
        raise _router_request("Router port must have at least one fixed IP")
    subnets = list(
        await session.scalars(select(Subnet).where(Subnet.id.in_([a.subnet_id for a in ips])))
    )
    _check_overlap(router, attached, subnets)
    port.device_id, port.device_owner = router.id, ROUTER_INTERFACE
    port.security_groups, port.port_security_enabled = [], False
    port.revision_number += 1
    return Interface(router, port, sorted(s.id for s in subnets))


def _interface_request(body: Any) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        raise _router_request("Either subnet_id or port_id must be specified")
    subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
    if subnet_id and port_id:
        raise _router_request("Cannot specify both subnet-id and port-id")
    if not subnet_id and not port_id:
        raise _router_request("Either subnet_id or port_id must be specified")
    return subnet_id, port_id


def _check_overlap(router: Router, attached: dict[str, Subnet], new: list[Subnet]) -> None:
    for subnet in new:
        if subnet.id in attached:
            raise _router_request(f"Router already has a port on subnet {subnet.id}")
        cidr = ipaddress.ip_network(subnet.cidr)
        for other in attached.values():
            if cidr.overlaps(ipaddress.ip_network(other.cidr)):
                raise _router_request(
                    f"Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr "
                    f"{other.cidr} of subnet {other.id}"
                )


async def _hold_address(session: AsyncSession, subnet: Subnet, port: Port, address: str) -> None:
    """Give ``port`` the subnet's gateway address (which fixed IP requests may not take)."""
    taken = await session.scalar(
        select(IPAllocation.port_id).where(
            IPAllocation.subnet_id == subnet.id, IPAllocation.ip_address == address
        )
    )
    if taken is not None:
        raise IpAddressAlreadyAllocated(ip=address, subnet_id=subnet.id)
    session.add(
        IPAllocation(
            subnet_id=subnet.id, ip_address=address, port_id=port.id, network_id=subnet.network_id
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        raise IpAddressAlreadyAllocated(ip=address, subnet_id=subnet.id) from None


async def remove_interface(
    session: AsyncSession, ctx: RequestContext, router: Router, body: Any
) -> Interface:
    """Detach ``router`` from a subnet or port; the interface port is deleted, as Neutron
    does, unless a floating IP still needs it."""
    subnet_id, port_id = _interface_request(body)
    ports = await interface_ports(session, [router.id])
    ips = await port_store.ips_of(session, [p.id for p in ports])
    if port_id is not None:
        port = next((p for p in ports if p.id == port_id), None)
        if port is None:
            raise RouterInterfaceNotFound(router_id=router.id, port_id=port_id)
    else:
        port = next((p for p in ports if any(a.subnet_id == subnet_id for a in ips[p.id])), None)
        if port is None:
            raise RouterInterfaceNotFoundForSubnet(router_id=router.id, subnet_id=subnet_id)
    subnet_ids = sorted(a.subnet_id for a in ips[port.id])
    await _check_interface_unused(session, router, subnet_ids)
    await port_store.remove(session, port)
    return Interface(router, port, subnet_ids)


async def _check_interface_unused(
    session: AsyncSession, router: Router, subnet_ids: list[str]
) -> None:
    fixed = await session.execute(
        select(IPAllocation.subnet_id)
        .join(FloatingIP, FloatingIP.fixed_port_id == IPAllocation.port_id)
        .where(
            FloatingIP.router_id == router.id,
            IPAllocation.ip_address == FloatingIP.fixed_ip_address,
            IPAllocation.subnet_id.in_(subnet_ids),
        )
    )
    used = fixed.scalars().first()
    if used is not None:
        raise RouterInterfaceInUseByFloatingIP(router_id=router.id, subnet_id=used)


async def delete_router(session: AsyncSession, router: Router) -> None:
    if await interface_ports(session, [router.id]):
        raise RouterInUse(router_id=router.id, reason="still has ports")
    await _clear_gateway(session, router)
    await session.delete(router)


# --- floating IPs ----------------------------------------------------------------------------


async def get_floatingip(session: AsyncSession, ctx: RequestContext, fip_id: str) -> FloatingIP:
    row = await session.get(FloatingIP, fip_id)
    if row is None or not (ctx.is_admin or row.project_id == ctx.project_id):
        raise FloatingIPNotFound(floatingip_id=fip_id)
    return row


async def create_floatingip(
    session: AsyncSession,
    ctx: RequestContext,
    settings: NetworkSettings,
    project_id: str,
    attrs: dict[str, Any],
) -> FloatingIP:
    """A floating IP on ``attrs["floating_network_id"]``, associated if it names a port."""
    network = await access.get_network(session, ctx, attrs["floating_network_id"])
    if not network.external:
        raise _floatingip_request(f"Network {network.id} is not a valid external network")
    await quotas.check_quota(session, settings, project_id, "floatingip")
    fip = FloatingIP(
        id=new_uuid(),
        project_id=project_id,
        floating_network_id=network.id,
        description=attrs.get("description", ""),
        tags=attrs.get("tags", []),
    )
    port = await _new_port(session, settings, network, NO_PROJECT, fip.id, FLOATINGIP_OWNER)
    wanted = await _floating_address_request(session, ctx, network, attrs)
    (allocation,) = await fixed_ips.allocate(session, network.id, port.id, [wanted])
    fip.floating_port_id, fip.floating_ip_address = port.id, allocation.ip_address
    session.add(fip)
    await session.flush()
    if attrs.get("port_id"):
        await associate(session, ctx, fip, attrs["port_id"], attrs.get("fixed_ip_address"))
    return fip


async def _floating_address_request(
    session: AsyncSession, ctx: RequestContext, network: Network, attrs: dict[str, Any]
) -> dict[str, str]:
    """The ``fixed_ips`` entry of the floating IP's port: the address or subnet asked for,
    else the network's first IPv4 subnet."""
    wanted: dict[str, str] = {}
    if "floating_ip_address" in attrs:
        enforce(ctx, "network:floatingip:address")
        wanted["ip_address"] = attrs["floating_ip_address"]
    if "subnet_id" in attrs:
        wanted["subnet_id"] = attrs["subnet_id"]
    if wanted:
        return wanted
    first = await session.scalar(
        select(Subnet.id)
        .where(Subnet.network_id == network.id, Subnet.ip_version == 4)
        .order_by(Subnet.created_at, Subnet.id)
    )
    if first is None:
        raise _floatingip_request(f"Network {network.id} does not contain any IPv4 subnet")
    return {"subnet_id": first}


async def associate(
    session: AsyncSession,
    ctx: RequestContext,
    fip: FloatingIP,
    port_id: str | None,
    fixed_ip_address: str | None,
) -> None:
    """Translate ``fip`` to ``port_id``'s address (``None`` disassociates)."""
    if port_id is None:
        _forget(fip)
        return
    port = await access.get_port(session, ctx, port_id)
    address = await _fixed_address(session, port, fixed_ip_address)
    router_id = await _router_for(session, fip.floating_network_id, address)
    if router_id is None:
        raise ExternalGatewayForFloatingIPNotFound(
            external_network_id=fip.floating_network_id,
            subnet_id=address.subnet_id,
            port_id=port.id,
        )
    taken = await session.scalar(
        select(FloatingIP).where(
            FloatingIP.floating_network_id == fip.floating_network_id,
            FloatingIP.fixed_port_id == port.id,
            FloatingIP.fixed_ip_address == address.ip_address,
            FloatingIP.id != fip.id,
        )
    )
    if taken is not None:
        raise FloatingIPPortAlreadyAssociated(
            floating_ip_address=fip.floating_ip_address,
            fip_id=fip.id,
            port_id=port.id,
            fixed_ip=address.ip_address,
            net_id=fip.floating_network_id,
        )
    fip.fixed_port_id, fip.fixed_ip_address = port.id, address.ip_address
    fip.router_id, fip.status = router_id, "ACTIVE"
    fip.revision_number += 1


async def _fixed_address(session: AsyncSession, port: Port, wanted: str | None) -> IPAllocation:
    """The port's IPv4 address a floating IP translates to: ``wanted``, or its only one."""
    ips = (await port_store.ips_of(session, [port.id])).get(port.id, [])
    ipv4 = [a for a in ips if ipaddress.ip_address(a.ip_address).version == 4]
    if wanted is not None:
        for allocation in ipv4:
            if allocation.ip_address == wanted:
                return allocation
        raise _floatingip_request(f"Port {port.id} does not have fixed ip {wanted}")
    if not ipv4:
        raise _floatingip_request(
            f"Cannot add floating IP to port {port.id} that has no fixed IPv4 addresses"
        )
    if len(ipv4) > 1:
        raise _floatingip_request(
            f"Port {port.id} has multiple fixed IPv4 addresses.  Must provide a specific "
            "IPv4 address when assigning a floating IP"
        )
    return ipv4[0]


async def _router_for(
    session: AsyncSession, external_network_id: str, address: IPAllocation
) -> str | None:
    """A router with a gateway on the external network and an interface on the address's
    subnet: the one that can translate it."""
    return await session.scalar(
        select(Router.id)
        .join(Port, Port.device_id == Router.id)
        .join(IPAllocation, IPAllocation.port_id == Port.id)
        .where(
            Router.external_network_id == external_network_id,
            Port.device_owner == ROUTER_INTERFACE,
            IPAllocation.subnet_id == address.subnet_id,
        )
        .order_by(Router.created_at, Router.id)
        .limit(1)
    )


async def delete_floatingip(session: AsyncSession, fip: FloatingIP) -> None:
    port = await session.get(Port, fip.floating_port_id)
    if port is not None:
        await port_store.remove(session, port)
    await session.delete(fip)


async def disassociate_port(session: AsyncSession, port_id: str) -> int:
    """Forget the floating IPs of a port being deleted (Neutron's
    ``disassociate_floatingips``); how many there were."""
    fips = list(
        await session.scalars(select(FloatingIP).where(FloatingIP.fixed_port_id == port_id))
    )
    for fip in fips:
        _forget(fip)
    return len(fips)


def _forget(fip: FloatingIP) -> None:
    fip.fixed_port_id = fip.fixed_ip_address = fip.router_id = None
    fip.status = "DOWN"
    fip.revision_number += 1


async def refresh_instance_addresses(session: AsyncSession, *ports: str | None) -> None:
    """Rewrite the addresses the compute API shows for the servers of ``ports`` (the fixed
    ports a floating IP left or joined): Nova's ``network-changed`` event, handled here
    since both services share the database."""
    wanted = {p for p in ports if p}
    if not wanted:
        return
    devices = await session.execute(
        select(Port.device_id).where(
            Port.id.in_(wanted), Port.device_owner.startswith(port_store.GUEST_OWNER)
        )
    )
    for (instance_uuid,) in devices:
        info = await nw_info.build(session, instance_uuid)
        await session.execute(
            update(Instance)
            .where(Instance.uuid == instance_uuid, Instance.deleted == 0)
            .values(network_info=[vif.model_dump(mode="json") for vif in info.vifs])
        )
