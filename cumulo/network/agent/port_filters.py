"""What the firewall of some compute hosts applies, read from the database: one
``PortFilter`` per guest port bound to them, with its groups' rules and each
``remote_group_id`` expanded to the addresses of that group's member ports (what
Neutron's security-group RPC gives its agents)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.models.network import IPAllocation, Port, SecurityGroupRule
from cumulo.network.agent.firewall import FirewallRule, PortFilter
from cumulo.network.model import devname
from cumulo.network.port_store import GUEST_OWNER


async def port_filters(session: AsyncSession, hosts: Collection[str]) -> list[PortFilter]:
    """The filters of every guest port bound to ``hosts``."""
    ports = list(
        await session.scalars(
            select(Port).where(
                Port.host_id.in_(list(hosts)), Port.device_owner.startswith(GUEST_OWNER)
            )
        )
    )
    if not ports:
        return []
    groups = {g for p in ports if p.port_security_enabled for g in p.security_groups}
    rules: dict[str, list[SecurityGroupRule]] = defaultdict(list)
    if groups:
        found = await session.scalars(
            select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(groups))
        )
        for rule in found:
            rules[rule.security_group_id].append(rule)
    remote = {r.remote_group_id for found in rules.values() for r in found if r.remote_group_id}
    members = await _member_addresses(session, remote)
    own = await _addresses(session, [p.id for p in ports])
    return [
        PortFilter(
            port_id=port.id,
            device=devname(port.id),
            mac=port.mac_address,
            fixed_ips=tuple(own.get(port.id, ())),
            allowed_address_pairs=tuple(
                (pair["ip_address"], pair.get("mac_address") or "")
                for pair in port.allowed_address_pairs
            ),
            port_security_enabled=port.port_security_enabled,
            rules=tuple(
                _rule(rule, members)
                for group in (port.security_groups if port.port_security_enabled else ())
                for rule in rules.get(group, ())
            ),
        )
        for port in ports
    ]


def _rule(row: SecurityGroupRule, members: dict[str, list[str]]) -> FirewallRule:
    return FirewallRule(
        direction="ingress" if row.direction == "ingress" else "egress",
        ethertype="IPv6" if row.ethertype == "IPv6" else "IPv4",
        protocol=row.protocol,
        port_range_min=row.port_range_min,
        port_range_max=row.port_range_max,
        remote_ip_prefix=row.remote_ip_prefix,
        remote_ips=(tuple(members.get(row.remote_group_id, ())) if row.remote_group_id else None),
    )


async def _member_addresses(session: AsyncSession, groups: set[str]) -> dict[str, list[str]]:
    """The fixed IPs of the ports in each of ``groups``."""
    if not groups:
        return {}
    in_groups = {
        port_id: [g for g in port_groups if g in groups]
        for port_id, port_groups in await session.execute(
            select(Port.id, Port.security_groups).where(Port.port_security_enabled.is_(True))
        )
        if any(g in groups for g in port_groups)
    }
    found: dict[str, list[str]] = defaultdict(list)
    for port_id, addresses in (await _addresses(session, list(in_groups))).items():
        for group in in_groups[port_id]:
            found[group].extend(addresses)
    return found


async def _addresses(session: AsyncSession, port_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if port_ids:
        rows = await session.execute(
            select(IPAllocation.port_id, IPAllocation.ip_address).where(
                IPAllocation.port_id.in_(port_ids)
            )
        )
        for port_id, address in rows:
            found[port_id].append(address)
    return found
