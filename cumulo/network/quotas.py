"""``/v2.0/quotas``: per-project limits with Neutron's defaults, and usage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.policy import enforce
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.models.network import (
    Network,
    NetworkQuota,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from cumulo.network.errors import InvalidInput, OverQuota

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]
DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "security_group": 10,
    "security_group_rule": 100,
    "router": 10,
    "floatingip": 50,
    "rbac_policy": 10,
    "subnetpool": -1,
}
COUNTED = {
    "network": Network,
    "subnet": Subnet,
    "port": Port,
    "security_group": SecurityGroup,
    "security_group_rule": SecurityGroupRule,
}


async def limits(session: AsyncSession, project_id: str) -> dict[str, int]:
    rows = await session.scalars(select(NetworkQuota).where(NetworkQuota.project_id == project_id))
    return DEFAULTS | {row.resource: row.limit for row in rows}


async def check_quota(session: AsyncSession, project_id: str, resource: str) -> None:
    """Refuse one more ``resource`` when the project already uses its whole limit."""
    limit = (await limits(session, project_id))[resource]
    model = COUNTED[resource]
    stmt = select(func.count()).select_from(model).where(model.project_id == project_id)
    if limit >= 0 and int(await session.scalar(stmt) or 0) >= limit:
        raise OverQuota(overs=[resource])


async def _usage(session: AsyncSession, project_id: str) -> dict[str, int]:
    used = dict.fromkeys(DEFAULTS, 0)
    for name, model in COUNTED.items():
        stmt = select(func.count()).select_from(model).where(model.project_id == project_id)
        used[name] = int(await session.scalar(stmt) or 0)
    return used


@router.get("/v2.0/quotas")
async def list_quotas(request: Request, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:update")
    async with request.app.state.runtime.db.read() as session:
        projects = set(await session.scalars(select(NetworkQuota.project_id)))
        quotas = [
            (await limits(session, p)) | {"project_id": p, "tenant_id": p} for p in sorted(projects)
        ]
    return JSON({"quotas": quotas})


@router.get("/v2.0/quotas/{project_id}/default")
async def default_quota(project_id: str, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:show", {"project_id": project_id})
    return JSON({"quota": dict(DEFAULTS)})


@router.get("/v2.0/quotas/{project_id}/details")
async def quota_details(request: Request, project_id: str, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:show", {"project_id": project_id})
    async with request.app.state.runtime.db.read() as session:
        limit = await limits(session, project_id)
        used = await _usage(session, project_id)
    body = {k: {"limit": v, "used": used[k], "reserved": 0} for k, v in limit.items()}
    return JSON({"quota": body})


@router.get("/v2.0/quotas/{project_id}")
async def show_quota(request: Request, project_id: str, ctx: Ctx) -> JSON:
    enforce(ctx, "network:quota:show", {"project_id": project_id})
    async with request.app.state.runtime.db.read() as session:
        return JSON({"quota": await limits(session, project_id)})


def _parse(data: Any) -> dict[str, int]:
    if not isinstance(data, dict) or not isinstance(data.get("quota"), dict):
        raise InvalidInput(error_message="Unable to find 'quota' in request body")
    result: dict[str, int] = {}
    for key, value in data["quota"].items():
        if key not in DEFAULTS:
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
        return JSON({"quota": await limits(session, project_id)})


@router.delete("/v2.0/quotas/{project_id}", status_code=204)
async def reset_quota(request: Request, project_id: str, ctx: Ctx) -> Response:
    enforce(ctx, "network:quota:update")
    async with request.app.state.runtime.db.write() as session:
        await session.execute(delete(NetworkQuota).where(NetworkQuota.project_id == project_id))
    return Response(status_code=204)
