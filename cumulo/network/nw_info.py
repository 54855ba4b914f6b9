"""Building an instance's ``NetworkInfo`` from its ports (Nova's ``_build_network_info_model``)."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.network import FloatingIP, InstanceVif, IPAllocation, Network, Port, Subnet
from cumulo.network import model, port_store

R = TypeVar("R", Network, Subnet)


Floating = Mapping[tuple[str, str], list[str]]
"""Floating IP addresses by the (port, fixed address) they translate to."""


def _subnet(row: Subnet, addresses: list[IPAllocation], floating: Floating) -> model.Subnet:
    version = row.ip_version
    gateway = (
        model.IP(address=row.gateway_ip, type="gateway", version=version)
        if row.gateway_ip
        else None
    )
    return model.Subnet(
        id=row.id,
        cidr=row.cidr,
        version=version,
        gateway=gateway,
        dns=[
            model.IP(address=d, type="dns", version=ipaddress.ip_address(d).version)
            for d in row.dns_nameservers
        ],
        ips=[
            model.FixedIP(
                address=a.ip_address,
                version=version,
                floating_ips=[
                    model.IP(address=f, type="floating", version=4)
                    for f in floating.get((a.port_id, a.ip_address), [])
                ],
            )
            for a in addresses
        ],
        routes=[
            model.Route(
                cidr=r["destination"],
                gateway=model.IP(address=r["nexthop"], type="gateway", version=version),
            )
            for r in row.host_routes
        ],
        dhcp_enabled=row.enable_dhcp,
    )


def _network(
    net: Network, subnets: dict[str, Subnet], ips: list[IPAllocation], floating: Floating
) -> model.Network:
    by_subnet: dict[str, list[IPAllocation]] = {}
    for allocation in ips:
        by_subnet.setdefault(allocation.subnet_id, []).append(allocation)
    return model.Network(
        id=net.id,
        label=net.name,
        bridge=model.bridge_name(net.id),
        mtu=net.mtu,
        project_id=net.project_id,
        subnets=[_subnet(subnets[sid], found, floating) for sid, found in by_subnet.items()],
    )


def _vif(port: Port, network: model.Network, vif: InstanceVif | None) -> model.VIF:
    return model.VIF(
        id=port.id,
        address=port.mac_address,
        network=network,
        type=port.vif_type,
        details={"port_filter": port.port_security_enabled},
        devname=model.devname(port.id),
        vnic_type=port.vnic_type,
        active=port.status == "ACTIVE",
        preserve_on_delete=vif.preserve_on_delete if vif is not None else False,
        tag=vif.tag if vif is not None else None,
    )


async def build(
    session: AsyncSession, instance_uuid: str, visible: Any = True
) -> model.NetworkInfo:
    """The VIFs of the ports on ``instance_uuid`` (among ``visible``), in the instance's order."""
    ports = list(
        await session.scalars(select(Port).where(Port.device_id == instance_uuid, visible))
    )
    vifs = {
        v.port_id: v
        for v in await session.scalars(
            select(InstanceVif).where(InstanceVif.instance_uuid == instance_uuid)
        )
    }
    return await of_ports(session, [(p, vifs.get(p.id)) for p in ports])


async def of_ports(
    session: AsyncSession,
    ports: Sequence[tuple[Port, InstanceVif | None]],
    ips: Mapping[str, list[IPAllocation]] | None = None,
) -> model.NetworkInfo:
    """The VIFs of ``ports`` (with their records on the instance), in the instance's order.

    ``ips`` holds the addresses the caller already has (of ports it just made, which have
    no floating IPs yet); networks and subnets the session holds are not read again.
    """
    known = dict(ips or {})
    unread = [p.id for p, _ in ports if p.id not in known]
    floating: dict[tuple[str, str], list[str]] = {}
    if unread:
        known.update(await port_store.ips_of(session, unread))
        rows = await session.execute(
            select(
                FloatingIP.fixed_port_id,
                FloatingIP.fixed_ip_address,
                FloatingIP.floating_ip_address,
            ).where(FloatingIP.fixed_port_id.in_(unread))
        )
        for port_id, fixed, address in rows:
            floating.setdefault((str(port_id), str(fixed)), []).append(address)
    for found in known.values():
        found.sort(key=lambda a: (a.subnet_id, a.ip_address))
    nets = await _rows(session, Network, {p.network_id for p, _ in ports})
    subnets = await _rows(session, Subnet, {a.subnet_id for f in known.values() for a in f})
    ordered = sorted(ports, key=lambda e: (e[1].position if e[1] else len(ports), e[0].id))
    return model.NetworkInfo(
        vifs=[
            _vif(p, _network(nets[p.network_id], subnets, known.get(p.id, []), floating), vif)
            for p, vif in ordered
        ]
    )


async def _rows(session: AsyncSession, table: type[R], ids: set[str]) -> dict[str, R]:
    """The rows of ``table`` with ``ids``: those the session holds, and one read for the rest
    (of one id, a fast path row with the ORM object's attribute names)."""
    held = {i: session.identity_map.get(identity_key(table, i)) for i in ids}
    found: dict[str, R] = {i: row for i, row in held.items() if row is not None}
    missing = [i for i in ids if i not in found]
    if len(missing) == 1:
        found.update({row.id: row for row in await run(session, _by_id(table), {"id": missing[0]})})
    elif missing:
        rows = await session.scalars(select(table).where(table.id.in_(missing)))
        found.update({row.id: row for row in rows})
    return found


@functools.lru_cache(maxsize=2)
def _by_id(table: type[R]) -> Prepared:
    """The query of one row of ``table`` (the common case), built once."""
    return Prepared(select(table).where(table.id == bindparam("id")))
