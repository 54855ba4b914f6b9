"""``/v2.0/security-groups`` and ``/v2.0/security-group-rules``."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import delete, select

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.models.network import (
    DefaultSecurityGroup,
    Port,
    SecurityGroup,
    SecurityGroupRule,
)
from cumulo.network import access, listing, quotas, schemas, secgroups
from cumulo.network.errors import (
    InvalidInput,
    SecurityGroupCannotRemoveDefault,
    SecurityGroupInUse,
    SecurityGroupInvalidPortRange,
    SecurityGroupRemoteGroupAndRemoteIpPrefix,
    SecurityGroupRuleExists,
    SecurityGroupRuleInvalidProtocol,
    SecurityGroupRuleNotFound,
    SecurityGroupRuleParameterConflict,
)
from cumulo.network.messages import security_groups_changed

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]
PROTOCOLS = [
    "ah",
    "dccp",
    "egp",
    "esp",
    "gre",
    "icmp",
    "icmpv6",
    "igmp",
    "ipip",
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-icmp",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
    "ospf",
    "pgm",
    "rsvp",
    "sctp",
    "tcp",
    "udp",
    "udplite",
    "vrrp",
]
GROUP = schemas.COMMON | {"stateful": (schemas.to_bool, True)}
RULE: dict[str, tuple[schemas.Convert, bool]] = {
    "tenant_id": (schemas.to_str, False),
    "project_id": (schemas.to_str, False),
    "description": (schemas.to_str, False),
    "security_group_id": (schemas.to_str, False),
    "direction": (schemas.to_str, False),
    "ethertype": (schemas.to_str, False),
    "protocol": (schemas.to_opt_str, False),
    "port_range_min": (schemas.to_opt_int, False),
    "port_range_max": (schemas.to_opt_int, False),
    "remote_ip_prefix": (schemas.to_opt_str, False),
    "remote_group_id": (schemas.to_opt_str, False),
}


async def _rules(session: Any, group_ids: list[str]) -> dict[str, list[SecurityGroupRule]]:
    rows = await session.scalars(
        select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(group_ids))
    )
    found: dict[str, list[SecurityGroupRule]] = {g: [] for g in group_ids}
    for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
        found[row.security_group_id].append(row)
    return found


@router.post("/v2.0/security-groups", status_code=201)
async def create_group(request: Request, ctx: Ctx) -> JSON:
    data = await read_json(request)
    attrs = schemas.parse(data, "security_group", GROUP, update=False)
    project_id = access.owner_project(ctx, attrs)
    db = request.app.state.runtime.db
    await secgroups.ensure_default(db, project_id)
    settings = request.app.state.runtime.settings.network
    async with db.write() as session:
        await quotas.check_quota(session, settings, project_id, "security_group")
        row = SecurityGroup(project_id=project_id, **attrs)
        session.add(row)
        await session.flush()
        rules = [
            SecurityGroupRule(
                project_id=project_id,
                security_group_id=row.id,
                direction="egress",
                ethertype=ethertype,
            )
            for ethertype in ("IPv4", "IPv6")
        ]
        session.add_all(rules)
        await session.flush()
        body = secgroups.group_view(row, rules)
    return JSON({"security_group": body}, status_code=201)


@router.get("/v2.0/security-groups")
async def list_groups(request: Request, ctx: Ctx) -> JSON:
    db = request.app.state.runtime.db
    if ctx.project_id:
        await secgroups.ensure_default(db, ctx.project_id)
    async with db.read() as session:
        stmt = select(SecurityGroup).where(secgroups.group_filter(ctx))
        rows = list(await session.scalars(stmt))
        rules = await _rules(session, [r.id for r in rows])
    items = [secgroups.group_view(r, rules[r.id]) for r in rows]
    return JSON(listing.page(request, "security_groups", items, secgroups.GROUP_ATTRIBUTES))


@router.get("/v2.0/security-groups/{group_id}")
async def show_group(request: Request, group_id: str, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        row = await secgroups.get_group(session, ctx, group_id)
        rules = await _rules(session, [row.id])
    body = secgroups.group_view(row, rules[row.id])
    return JSON(
        {"security_group": listing.only_fields(body, request.query_params.getlist("fields"))}
    )


@router.put("/v2.0/security-groups/{group_id}")
async def update_group(request: Request, group_id: str, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "security_group", GROUP, update=True)
    async with request.app.state.runtime.db.write() as session:
        row = await secgroups.get_group(session, ctx, group_id)
        access.enforce_owner(ctx, "network:update", row.project_id)
        for key, value in attrs.items():
            setattr(row, key, value)
        row.revision_number += 1
        await session.flush()
        rules = await _rules(session, [row.id])
        body = secgroups.group_view(row, rules[row.id])
    return JSON({"security_group": body})


@router.delete("/v2.0/security-groups/{group_id}", status_code=204)
async def delete_group(request: Request, group_id: str, ctx: Ctx) -> Response:
    async with request.app.state.runtime.db.write() as session:
        row = await secgroups.get_group(session, ctx, group_id)
        access.enforce_owner(ctx, "network:delete", row.project_id)
        default = await session.get(DefaultSecurityGroup, row.project_id)
        if default is not None and default.security_group_id == row.id:
            if not ctx.is_admin:
                raise SecurityGroupCannotRemoveDefault()
            await session.delete(default)
        ports = await session.scalars(
            select(Port.security_groups).where(Port.project_id == row.project_id)
        )
        if any(row.id in groups for groups in ports):
            raise SecurityGroupInUse(id=row.id)
        await session.execute(
            delete(SecurityGroupRule).where(SecurityGroupRule.security_group_id == row.id)
        )
        await session.flush()
        await session.delete(row)
    await security_groups_changed(request.app.state.runtime.bus, ctx)
    return Response(status_code=204)


def _check_rule(attrs: dict[str, Any]) -> dict[str, Any]:
    if attrs.get("direction") not in ("ingress", "egress"):
        raise InvalidInput(
            error_message=f"Invalid input for direction. Reason: "
            f"'{attrs.get('direction')}' is not in ['ingress', 'egress']"
        )
    ethertype = attrs.setdefault("ethertype", "IPv4")
    if ethertype not in ("IPv4", "IPv6"):
        raise InvalidInput(
            error_message=f"Invalid input for ethertype. Reason: "
            f"'{ethertype}' is not in ['IPv4', 'IPv6']"
        )
    protocol = attrs.get("protocol")
    if protocol is not None:
        protocol = attrs["protocol"] = protocol.lower()
        if protocol not in PROTOCOLS and not (protocol.isdigit() and int(protocol) <= 255):
            raise SecurityGroupRuleInvalidProtocol(protocol=protocol, values=PROTOCOLS)
    low, high = attrs.get("port_range_min"), attrs.get("port_range_max")
    if protocol in ("tcp", "udp", "sctp", "udplite", "dccp") and low is not None:
        if high is None or not 1 <= low <= high <= 65535:
            raise SecurityGroupInvalidPortRange()
    prefix = attrs.get("remote_ip_prefix")
    if prefix is not None:
        if attrs.get("remote_group_id"):
            raise SecurityGroupRemoteGroupAndRemoteIpPrefix()
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise InvalidInput(error_message=f"'{prefix}' is not a valid IP subnet") from None
        if f"IPv{net.version}" != ethertype:
            raise SecurityGroupRuleParameterConflict(ethertype=ethertype, cidr=prefix)
        attrs["remote_ip_prefix"] = str(net)
    return attrs


def _same(row: SecurityGroupRule, attrs: dict[str, Any]) -> bool:
    def prefix(value: str | None) -> str | None:
        return None if value in ("0.0.0.0/0", "::/0") else value

    keys = (
        "direction",
        "ethertype",
        "protocol",
        "port_range_min",
        "port_range_max",
        "remote_group_id",
    )
    return all(getattr(row, k) == attrs.get(k) for k in keys) and prefix(
        row.remote_ip_prefix
    ) == prefix(attrs.get("remote_ip_prefix"))


@router.post("/v2.0/security-group-rules", status_code=201)
async def create_rule(request: Request, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "security_group_rule", RULE, update=False)
    if "security_group_id" not in attrs:
        raise InvalidInput(
            error_message="Failed to parse request. Required attribute "
            "'security_group_id' not specified"
        )
    attrs = _check_rule(attrs)
    attrs.pop("project_id", None)
    attrs.pop("tenant_id", None)
    settings = request.app.state.runtime.settings.network
    async with request.app.state.runtime.db.write() as session:
        group = await secgroups.get_group(session, ctx, attrs["security_group_id"])
        access.enforce_owner(ctx, "network:update", group.project_id)
        if attrs.get("remote_group_id"):
            await secgroups.get_group(session, ctx, attrs["remote_group_id"])
        for existing in (await _rules(session, [group.id]))[group.id]:
            if _same(existing, attrs):
                raise SecurityGroupRuleExists(rule_id=existing.id)
        await quotas.check_quota(session, settings, group.project_id, "security_group_rule")
        row = SecurityGroupRule(project_id=group.project_id, **attrs)
        session.add(row)
        group.revision_number += 1
        await session.flush()
        body = secgroups.rule_view(row)
    await security_groups_changed(request.app.state.runtime.bus, ctx)
    return JSON({"security_group_rule": body}, status_code=201)


def _rule_filter(ctx: RequestContext) -> Any:
    return True if ctx.is_admin else SecurityGroupRule.project_id == ctx.project_id


@router.get("/v2.0/security-group-rules")
async def list_rules(request: Request, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        rows = list(await session.scalars(select(SecurityGroupRule).where(_rule_filter(ctx))))
    items = [secgroups.rule_view(r) for r in rows]
    return JSON(listing.page(request, "security_group_rules", items, secgroups.RULE_ATTRIBUTES))


async def _get_rule(session: Any, ctx: RequestContext, rule_id: str) -> SecurityGroupRule:
    stmt = select(SecurityGroupRule).where(SecurityGroupRule.id == rule_id, _rule_filter(ctx))
    row = await session.scalar(stmt)
    if row is None:
        raise SecurityGroupRuleNotFound(id=rule_id)
    return row


@router.get("/v2.0/security-group-rules/{rule_id}")
async def show_rule(request: Request, rule_id: str, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        row = await _get_rule(session, ctx, rule_id)
    body = listing.only_fields(secgroups.rule_view(row), request.query_params.getlist("fields"))
    return JSON({"security_group_rule": body})


@router.delete("/v2.0/security-group-rules/{rule_id}", status_code=204)
async def delete_rule(request: Request, rule_id: str, ctx: Ctx) -> Response:
    async with request.app.state.runtime.db.write() as session:
        row = await _get_rule(session, ctx, rule_id)
        access.enforce_owner(ctx, "network:delete", row.project_id)
        await session.delete(row)
    await security_groups_changed(request.app.state.runtime.bus, ctx)
    return Response(status_code=204)
