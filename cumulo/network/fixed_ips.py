"""Turning a port's requested ``fixed_ips`` into address allocations, inside one transaction."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.network import IPAllocation, Subnet
from cumulo.network import ipam
from cumulo.network.errors import (
    InvalidInput,
    InvalidIpForNetwork,
    InvalidIpForSubnet,
    IpAddressAlreadyAllocated,
    IpAddressGenerationFailure,
)

SubnetRow = Any
"""A row of ``subnets`` read on the fast path (``cumulo.db.fastpath``): ``Subnet``'s
columns by name."""


async def _taken(session: AsyncSession, subnet_id: str) -> set[str]:
    """The subnet's addresses in use. SQLite joins them into one string: a subnet's
    hundreds of rows cost several times what the query does (every new port reads them).
    MariaDB's ``GROUP_CONCAT`` is cut at ``group_concat_max_len``, so the others send rows.
    """
    params = {"subnet_id": subnet_id}
    if session.get_bind().dialect.name == "sqlite":
        joined = (await run(session, _TAKEN_JOINED, params)).scalar()
        return set(joined.split(",")) if joined else set()
    return set((await run(session, _TAKEN, params)).scalars())


# Built once, run on every port: building and keying a statement costs more than running it.
_OF_SUBNET = IPAllocation.subnet_id == bindparam("subnet_id")
_TAKEN = Prepared(select(IPAllocation.ip_address).where(_OF_SUBNET))
_TAKEN_JOINED = Prepared(
    select(func.group_concat(IPAllocation.ip_address, ",")).where(_OF_SUBNET)
)
_SUBNETS = Prepared(
    select(Subnet)
    .where(Subnet.network_id == bindparam("net_id"))
    .order_by(Subnet.created_at, Subnet.id)
)
_INSERT = Prepared(insert(IPAllocation))


def _subnet_for(subnets: list[SubnetRow], entry: dict[str, Any]) -> SubnetRow:
    if "subnet_id" in entry:
        for subnet in subnets:
            if subnet.id == entry["subnet_id"]:
                return subnet
        raise InvalidInput(
            error_message=f"Failed to create port on network, because fixed_ips included "
            f"invalid subnet {entry['subnet_id']}"
        )
    address = ipam.parse_ip(entry["ip_address"])
    for subnet in subnets:
        if address in ipaddress.ip_network(subnet.cidr):
            return subnet
    raise InvalidIpForNetwork(ip_address=entry["ip_address"])


async def _fixed(session: AsyncSession, subnet: SubnetRow, raw: Any) -> str:
    """A requested address: inside the subnet, not reserved, not in use."""
    address = ipam.parse_ip(raw)
    net = ipaddress.ip_network(subnet.cidr)
    reserved = {net.network_address} | ({net.broadcast_address} if net.version == 4 else set())
    if address not in net or address in reserved or str(address) == subnet.gateway_ip:
        raise InvalidIpForSubnet(ip_address=str(raw))
    if str(address) in await _taken(session, subnet.id):
        raise IpAddressAlreadyAllocated(ip=str(address), subnet_id=subnet.id)
    return str(address)


async def _any(
    session: AsyncSession, subnets: list[SubnetRow], net_id: str
) -> tuple[SubnetRow, str]:
    """A free address from the first of ``subnets`` that has one."""
    for subnet in subnets:
        address = ipam.pick_free(subnet.allocation_pools, await _taken(session, subnet.id))
        if address is not None:
            return subnet, address
    raise IpAddressGenerationFailure(net_id=net_id)


def _entries(requested: list[Any]) -> list[dict[str, Any]]:
    for entry in requested:
        if (
            not isinstance(entry, dict)
            or not set(entry) <= {"subnet_id", "ip_address"}
            or not entry
        ):
            raise InvalidInput(error_message=f"Invalid data format for fixed IP: '{entry}'")
    return requested


async def allocate(
    session: AsyncSession, net_id: str, port_id: str, requested: list[Any] | None
) -> list[IPAllocation]:
    """The port's allocations, one per request or one per IP version, written in the
    session's transaction (the objects returned are not the session's)."""
    subnets = (await run(session, _SUBNETS, {"net_id": net_id})).all()
    chosen: list[tuple[SubnetRow, str]] = []
    if requested is None:
        for version in (4, 6):
            of_version = [s for s in subnets if s.ip_version == version]
            if of_version:
                chosen.append(await _any(session, of_version, net_id))
    for entry in _entries(requested or []):
        subnet = _subnet_for(subnets, entry)
        if "ip_address" in entry:
            chosen.append((subnet, await _fixed(session, subnet, entry["ip_address"])))
        else:
            chosen.append(await _any(session, [subnet], net_id))
    seen: set[tuple[str, str]] = set()
    for subnet, address in chosen:
        if (subnet.id, address) in seen:
            raise IpAddressAlreadyAllocated(ip=address, subnet_id=subnet.id)
        seen.add((subnet.id, address))
    rows = [
        {"subnet_id": s.id, "ip_address": a, "port_id": port_id, "network_id": net_id}
        for s, a in chosen
    ]
    if rows:
        await run(session, _INSERT, rows)
    return [IPAllocation(**row) for row in rows]
