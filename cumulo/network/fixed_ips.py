"""Turning a port's requested ``fixed_ips`` into address allocations, inside one transaction."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import bindparam, select
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


async def _taken(session: AsyncSession, subnet_id: str) -> set[str]:
    return set((await run(session, _TAKEN, {"subnet_id": subnet_id})).scalars())


# Built once, run on every port: building and keying a statement costs more than running it.
_TAKEN = Prepared(
    select(IPAllocation.ip_address).where(IPAllocation.subnet_id == bindparam("subnet_id"))
)
_SUBNETS = (
    select(Subnet)
    .where(Subnet.network_id == bindparam("net_id"))
    .order_by(Subnet.created_at, Subnet.id)
)


def _subnet_for(subnets: list[Subnet], entry: dict[str, Any]) -> Subnet:
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


async def _fixed(session: AsyncSession, subnet: Subnet, raw: Any) -> str:
    """A requested address: inside the subnet, not reserved, not in use."""
    address = ipam.parse_ip(raw)
    net = ipaddress.ip_network(subnet.cidr)
    reserved = {net.network_address} | ({net.broadcast_address} if net.version == 4 else set())
    if address not in net or address in reserved or str(address) == subnet.gateway_ip:
        raise InvalidIpForSubnet(ip_address=str(raw))
    if str(address) in await _taken(session, subnet.id):
        raise IpAddressAlreadyAllocated(ip=str(address), subnet_id=subnet.id)
    return str(address)


async def _any(session: AsyncSession, subnets: list[Subnet], net_id: str) -> tuple[Subnet, str]:
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
    """The port's allocations, added to ``session``: one per request, or one per IP version."""
    subnets = list(await session.scalars(_SUBNETS, {"net_id": net_id}))
    chosen: list[tuple[Subnet, str]] = []
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
        IPAllocation(subnet_id=s.id, ip_address=a, port_id=port_id, network_id=net_id)
        for s, a in chosen
    ]
    session.add_all(rows)
    return rows
