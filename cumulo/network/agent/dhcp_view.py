"""What a network's dnsmasq serves, read from the database (what Neutron's DHCP agent gets
over RPC): the network's DHCP port, made on first use and bound to the host that serves
it, and a static lease for every other address on the network's DHCP-enabled IPv4 subnets,
with the route to the metadata service through the DHCP port."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.config import Settings
from cumulo.db.models.network import IPAllocation, Network, Port, Subnet
from cumulo.network import fixed_ips, port_store
from cumulo.network.agent.dhcp import DhcpHost, DhcpNetwork, DhcpSubnet
from cumulo.network.agent.metadata import METADATA_ADDRESS

DHCP_OWNER = "network:dhcp"


class ServedElsewhere(Exception):
    """The network's DHCP port is bound to a host of another process."""


def dhcp_namespace(network_id: str) -> str:
    return f"qdhcp-{network_id}"


async def dhcp_view(
    session: AsyncSession, settings: Settings, network_id: str
) -> tuple[DhcpNetwork, Port, list[str]] | None:
    """What dnsmasq serves for the network, its DHCP port and that port's addresses;
    None when the network is gone or has no DHCP-enabled IPv4 subnet.

    Raises ``ServedElsewhere`` when a host of another process serves the network.
    """
    network = await session.get(Network, network_id)
    if network is None:
        return None
    subnets = [
        s
        for s in await session.scalars(select(Subnet).where(Subnet.network_id == network_id))
        if s.enable_dhcp and s.ip_version == 4
    ]
    if not subnets:
        return None
    port = await _dhcp_port(session, settings, network, subnets)
    allocations = list(
        await session.scalars(select(IPAllocation).where(IPAllocation.network_id == network_id))
    )
    by_subnet = {s.id: s for s in subnets}
    macs = {
        p.id: p.mac_address
        for p in await session.scalars(select(Port).where(Port.network_id == network_id))
    }
    hosts = tuple(
        DhcpHost(a.port_id, macs[a.port_id], a.ip_address, _hostname(a.ip_address))
        for a in allocations
        if a.subnet_id in by_subnet and a.port_id != port.id
    )
    cidrs = [
        f"{a.ip_address}/{by_subnet[a.subnet_id].cidr.partition('/')[2]}"
        for a in allocations
        if a.port_id == port.id and a.subnet_id in by_subnet
    ]
    dhcp_subnets = tuple(
        DhcpSubnet(
            id=s.id,
            cidr=s.cidr,
            gateway_ip=s.gateway_ip,
            dns_nameservers=tuple(s.dns_nameservers),
            host_routes=(
                *((r["destination"], r["nexthop"]) for r in s.host_routes),
                (f"{METADATA_ADDRESS}/32", _address_on(cidrs, s.cidr)),
            ),
        )
        for s in subnets
    )
    domain = settings.network.dns_domain
    return DhcpNetwork(network_id, network.mtu, dhcp_subnets, hosts, domain), port, cidrs


async def _dhcp_port(
    session: AsyncSession, settings: Settings, network: Network, subnets: list[Subnet]
) -> Port:
    """The network's DHCP port, made on first use, with an address on every subnet.

    The port is bound to the host serving the network: ``ServedElsewhere`` when that is
    not one of this process's."""
    hosts = settings.compute_hosts
    port = await session.scalar(
        select(Port).where(Port.network_id == network.id, Port.device_owner == DHCP_OWNER)
    )
    if port is not None and port.host_id not in hosts:
        if port.host_id:
            raise ServedElsewhere()
        port.host_id = hosts[0]
    if port is None:
        cols = {
            "security_groups": [],
            "port_security_enabled": False,
            "device_owner": DHCP_OWNER,
            "device_id": f"dhcp-{network.id}",
            "host_id": hosts[0],
            "status": "ACTIVE",
        }
        requested = [{"subnet_id": s.id} for s in subnets]
        port, _ = await port_store.create(
            session, settings.network, network, network.project_id, cols,
            requested, groups_checked=True,
        )  # fmt: skip
        return port
    held = set(
        await session.scalars(select(IPAllocation.subnet_id).where(IPAllocation.port_id == port.id))
    )
    missing = [{"subnet_id": s.id} for s in subnets if s.id not in held]
    if missing:
        await fixed_ips.allocate(session, network.id, port.id, missing)
        await session.flush()
    return port


def _hostname(address: str) -> str:
    """Neutron's host name for a port without a DNS name: ``host-10-0-0-5``."""
    return "host-" + address.replace(".", "-").replace(":", "-")


def _address_on(cidrs: list[str], subnet_cidr: str) -> str:
    """The DHCP port's address in ``subnet_cidr`` (the metadata route's next hop)."""
    network = ipaddress.ip_network(subnet_cidr)
    for cidr in cidrs:
        address = cidr.partition("/")[0]
        if ipaddress.ip_address(address) in network:
            return address
    raise LookupError(f"the DHCP port has no address on {subnet_cidr}")
