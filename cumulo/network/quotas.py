"""``/v2.0/quotas``: per-project limits (defaults from ``settings.network``), usage, and the check.

The check is strict under concurrency: it first holds the project's row in
``network_quota_locks`` (``cumulo.db.locks.hold_row``), so concurrent creates
of one resource in one project count and insert one after the other.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.policy import enforce
from cumulo.api.validation import read_json
from cumulo.config import NetworkSettings
from cumulo.context import RequestContext
from cumulo.db.fastpath import Prepared, run
from cumulo.db.locks import hold_row
from cumulo.db.models.network import (
    FloatingIP,
    Network,
    NetworkQuota,
    Port,
    QuotaLock,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from cumulo.network.errors import InvalidInput, OverQuota

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]
RESOURCES = (
    "network",
    "subnet",
    "port",
    "security_group",
    "security_group_rule",
    "router",
    "floatingip",
    "rbac_policy",
    "subnetpool",
)
UNCONFIGURED = {"rbac_policy": 10, "subnetpool": -1}
"""Neutron's defaults for the resources ``NetworkSettings`` has no option for."""
COUNTED: dict[str, Any] = {
    "network": Network,
    "subnet": Subnet,
    "port": Port,
    "security_group": SecurityGroup,
    "security_group_rule": SecurityGroupRule,
    "router": Router,
    "floatingip": FloatingIP,
}


def defaults(settings: NetworkSettings) -> dict[str, int]:
    configured = {r: getattr(settings, f"quota_{r}") for r in RESOURCES if r not in UNCONFIGURED}
    return {r: configured.get(r, UNCONFIGURED.get(r, -1)) for r in RESOURCES}


def _settings(request: Request) -> NetworkSettings:
    settings: NetworkSettings = request.app.state.runtime.settings.network
    return settings


async def limits(
    session: AsyncSession, settings: NetworkSettings, project_id: str
) -> dict[str, int]:
    rows = await run(session, _LIMITS, {"project_id": project_id})
    return defaults(settings) | {row.resource: row.limit for row in rows}


_LIMITS = Prepared(
    select(NetworkQuota.resource, NetworkQuota.limit).where(
        NetworkQuota.project_id == bindparam("project_id")
    )
)
"""``limits``' query, built once (every port and boot reads it)."""


async def used(session: AsyncSession, project_id: str, resource: str) -> int:
    """How many ``resource`` the project has, as committed now (not as of an older snapshot)."""
    locking = session.get_bind().dialect.name in ("mysql", "mariadb")
    rows = await run(session, _used_statement(resource, locking), {"project_id": project_id})
    return int(rows.scalar() or 0)


@functools.cache
def _used_statement(resource: str, locking: bool) -> Prepared:
    """``used``'s count of one resource, built once (a port and a boot count ports)."""
    model = COUNTED[resource]
    stmt = (
        select(func.count()).select_from(model).where(model.project_id == bindparam("project_id"))
    )
    if locking:
        # A locking read sees the latest commits, past InnoDB's repeatable-read snapshot.
        stmt = stmt.with_for_update(read=True)
    return Prepared(stmt)


async def check_quota(
    session: AsyncSession, settings: NetworkSettings, project_id: str, resource: str
) -> None:
    """Refuse one more ``resource`` when the project already uses its whole limit."""
    limit = (await limits(session, settings, project_id))[resource]
    if limit < 0:
        return
    await hold_row(session, QuotaLock, project_id=project_id, resource=resource)
    if await used(session, project_id, resource) >= limit:
        raise OverQuota(overs=[resource])


async def _usage(session: AsyncSession, project_id: str) -> dict[str, int]:
    usage = dict.fromkeys(RESOURCES, 0)
    for name, model in COUNTED.items():
        stmt = select(func.count()).select_from(model).where(model.project_id == project_id)
        usage[name] = int(await session.scalar(stmt) or 0)
    return usage


@router.get("/v2.0/quotas")
async def list_quotas(request: Request, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:update")
    async with request.app.state.runtime.db.read() as session:
        projects = set(await session.scalars(select(NetworkQuota.project_id)))
        quotas = [
            (await limits(session, _settings(request), p)) | {"project_id": p, "tenant_id": p}
            for p in sorted(projects)
        ]
    return JSON({"quotas": quotas})


@router.get("/v2.0/quotas/{project_id}/default")
async def default_quota(request: Request, project_id: str, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:show", {"project_id": project_id})
    return JSON({"quota": defaults(_settings(request))})


@router.get("/v2.0/quotas/{project_id}/details")
async def quota_details(request: Request, project_id: str, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:show", {"project_id": project_id})
    async with request.app.state.runtime.db.read() as session:
        limit = await limits(session, _settings(request), project_id)
        usage = await _usage(session, project_id)
    body = {k: {"limit": v, "used": usage[k], "reserved": 0} for k, v in limit.items()}
    return JSON({"quota": body})


@router.get("/v2.0/quotas/{project_id}")
async def show_quota(request: Request, project_id: str, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:show", {"project_id": project_id})
    async with request.app.state.runtime.db.read() as session:
        return JSON({"quota": await limits(session, _settings(request), project_id)})


def _parse(data: Any) -> dict[str, int]:
    if not isinstance(data, dict) or not isinstance(data.get("quota"), dict):
        raise InvalidInput(error_message="Unable to find 'quota' in request body")
    result: dict[str, int] = {}
    for key, value in data["quota"].items():
        if key not in RESOURCES:
            raise InvalidInput(error_message=f"Unrecognized attribute(s) '{key}'")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | str)
            or not str(value).lstrip("-").isdigit()
            or int(value) < -1
        ):
            raise InvalidInput(
                error_message=f"Invalid input for {key}. Reason: '{value}' is not a valid quota"
            )
        result[key] = int(value)
    return result


@router.put("/v2.0/quotas/{project_id}")
async def update_quota(request: Request, project_id: str, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:update")
    changes = _parse(await read_json(request))
    async with request.app.state.runtime.db.write() as session:
        for resource, limit in changes.items():
            row = await session.get(NetworkQuota, (project_id, resource))
            if row is None:
                session.add(NetworkQuota(project_id=project_id, resource=resource, limit=limit))
            else:
                row.limit = limit
        await session.flush()
        return JSON({"quota": await limits(session, _settings(request), project_id)})


@router.delete("/v2.0/quotas/{project_id}", status_code=204)
async def reset_quota(request: Request, project_id: str, ctx: Ctx) -> Response:
    enforce(ctx, "network:quota:update")
    async with request.app.state.runtime.db.write() as session:
        await session.execute(delete(NetworkQuota).where(NetworkQuota.project_id == project_id))
    return Response(status_code=204)
