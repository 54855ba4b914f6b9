"""Giving an instance its NICs and taking them back (Nova's ``allocate_for_instance`` and
``deallocate_for_instance``), each as one database transaction.

Nova creates ports one by one over HTTP and, when one fails, deletes the ones
it made and unbinds the user's ports again, best effort. Here every port of
one call is created or bound inside one transaction: any failure rolls all of
it back, so no port leaks and a user's port is left exactly as it was.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.config import NetworkSettings
from cumulo.context import RequestContext
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.network import InstanceVif, IPAllocation, Port
from cumulo.network import access, errors, l3, nic_requests, nw_info, port_store, secgroups
from cumulo.network.compute_errors import (
    FixedIpAlreadyInUse,
    FixedIpInvalidForNetwork,
    NoMoreFixedIps,
    PortLimitExceeded,
)
from cumulo.network.messages import AllocateForInstance, routers_changed
from cumulo.network.model import NetworkInfo
from cumulo.network.nic_requests import Nic
from cumulo.runtime import Runtime


async def _create_port(
    session: AsyncSession,
    settings: NetworkSettings,
    nic: Nic,
    project_id: str,
    cols: dict[str, Any],
) -> tuple[port_store.PortRow, list[IPAllocation]]:
    """A port on the NIC's network (its security groups already checked), with
    Neutron's errors turned into Nova's."""
    address = nic.request.fixed_ip
    net_id = nic.network.id
    try:
        if address is not None:
            ipaddress.ip_address(address)
        requested = [{"ip_address": address}] if address is not None else None
        return await port_store.create(
            session, settings, nic.network, project_id, cols, requested, groups_checked=True
        )
    except (ValueError, errors.InvalidIpForNetwork, errors.InvalidIpForSubnet):
        raise FixedIpInvalidForNetwork(ip=address, network_id=net_id) from None
    except errors.IpAddressAlreadyAllocated:
        raise FixedIpAlreadyInUse(f"Fixed IP {address} is already in use.") from None
    except errors.OverQuota:
        raise PortLimitExceeded() from None
    except errors.IpAddressGenerationFailure:
        raise NoMoreFixedIps(net=net_id) from None


async def _existing(session: AsyncSession, instance_uuid: str) -> bool:
    return (await run(session, _EXISTING, {"instance_uuid": instance_uuid})).first() is not None


_EXISTING = Prepared(
    select(InstanceVif.port_id)
    .where(InstanceVif.instance_uuid == bindparam("instance_uuid"))
    .limit(1)
)
"""``_existing``'s query, built once (building it costs more than running it)."""


async def allocate_for_instance(
    runtime: Runtime, ctx: RequestContext, msg: AllocateForInstance
) -> NetworkInfo:
    """Create or bind one port per requested NIC; the instance's ``NetworkInfo``.

    A repeated call for an instance that has its NICs (a redelivered message)
    answers with them and changes nothing.
    """
    instance = msg.instance
    settings = runtime.settings.network

    async def work(session: AsyncSession) -> NetworkInfo:
        default_group = await secgroups.default_group(session, instance.project_id)
        if await _existing(session, instance.uuid):
            return await nw_info.build(session, instance.uuid)
        nics = await nic_requests.resolve(
            session, ctx, instance, msg.requested_networks, msg.bind_host_id
        )
        group_ids = await nic_requests.security_group_ids(
            session, instance.project_id, msg.security_groups
        )
        subnets = await nic_requests.subnet_counts(session, [n.network.id for n in nics])
        for nic in nics:
            nic_requests.check_port_security(nic, subnets.get(nic.network.id, 0), group_ids)
        owner = f"{port_store.GUEST_OWNER}{instance.availability_zone}"
        bound = port_store.binding(instance.uuid, owner, msg.bind_host_id)
        made: list[tuple[port_store.PortRow | Port, InstanceVif]] = []
        vifs: list[dict[str, Any]] = []
        ips: dict[str, list[IPAllocation]] = {}
        for position, nic in enumerate(nics):
            port = nic.port
            if port is None:
                groups = group_ids or ([default_group] if nic.network.port_security_enabled else [])
                cols = {"security_groups": groups, "admin_state_up": True, **bound}
                port, addresses = await _create_port(
                    session, settings, nic, instance.project_id, cols
                )
                ips[port.id] = addresses
            else:
                port_store.bind(port, instance.uuid, owner, msg.bind_host_id)
            vifs.append(_vif_row(instance.uuid, nic, port, position))
            made.append((port, InstanceVif(**vifs[-1])))
        if vifs:
            await run(session, _INSERT_VIF, vifs)
        return await nw_info.of_ports(session, made, ips)

    return await port_store.with_retries(runtime.db, work)


def _vif_row(
    instance_uuid: str, nic: Nic, port: port_store.PortRow | Port, position: int
) -> dict[str, Any]:
    """The columns of ``port``'s record on the instance."""
    return {
        "port_id": port.id,
        "instance_uuid": instance_uuid,
        "network_id": port.network_id,
        "position": position,
        "tag": nic.request.tag,
        "preserve_on_delete": nic.port is not None,
    }


_INSERT_VIF = Prepared(insert(InstanceVif))


async def deallocate_for_instance(
    runtime: Runtime, ctx: RequestContext, instance_uuid: str
) -> None:
    """Delete the ports made for the instance (and forget their floating IPs) and unbind the
    user's own; again is a no-op."""

    async def work(session: AsyncSession) -> int:
        floating = 0
        vifs = {
            v.port_id: v
            for v in await session.scalars(
                select(InstanceVif).where(InstanceVif.instance_uuid == instance_uuid)
            )
        }
        stmt = select(Port).where(Port.device_id == instance_uuid, access.port_filter(ctx))
        for port in await session.scalars(stmt):
            vif = vifs.pop(port.id, None)
            if vif is not None and vif.preserve_on_delete:
                port_store.unbind(port)
                await session.delete(vif)
            else:
                floating += await l3.disassociate_port(session, port.id)
                await port_store.remove(session, port)
        await _forget_orphans(session, list(vifs))
        return floating

    if await port_store.with_retries(runtime.db, work):
        await routers_changed(runtime.bus, ctx)


async def _forget_orphans(session: AsyncSession, port_ids: list[Any]) -> None:
    """Records of ports that are gone (a user deleted an attached port)."""
    if not port_ids:
        return
    alive = set(await session.scalars(select(Port.id).where(Port.id.in_(port_ids))))
    gone = [p for p in port_ids if p not in alive]
    if gone:
        await session.execute(delete(InstanceVif).where(InstanceVif.port_id.in_(gone)))
