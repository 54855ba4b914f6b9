"""``/v3/{project_id}/os-quota-sets/{target}``: show (``?usage=true``), defaults, update, reset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import delete
from starlette.requests import Request
from starlette.responses import Response

from cumulo import exception
from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.context import RequestContext
from cumulo.db.models.volume import VolumeQuota
from cumulo.volume import http, quota, schemas

router = APIRouter(prefix="/v3/{project_id}/os-quota-sets")

MAX_INT = 0x7FFFFFFF
NON_QUOTA_KEYS = ("tenant_id", "id")


@router.get("/{target}/defaults")
async def defaults(
    target: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    policy.enforce(ctx, "volume:quota:show", {"project_id": target})
    async with http.runtime(request).db.read() as session:
        names = await quota.type_names(session)
    limits = quota.default_limits(http.runtime(request).settings.volume, names)
    return JSON({"quota_set": {**limits, "id": target}})


@router.get("/{target}")
async def show(target: str, request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "volume:quota:show", {"project_id": target})
    usage_param = request.query_params.get("usage", "false")
    with_usage = schemas.boolean("usage", usage_param) if usage_param else False
    settings = http.runtime(request).settings.volume
    async with http.runtime(request).db.read() as session:
        limits = await quota.project_limits(session, settings, target)
        usage = await quota.project_usage(session, target) if with_usage else {}
    body: dict[str, Any] = {}
    for name, limit in limits.items():
        if with_usage:
            body[name] = {"limit": limit, "in_use": usage.get(name, 0), "reserved": 0}
        else:
            body[name] = limit
    return JSON({"quota_set": {**body, "id": target}})


def _limit(name: str, value: Any) -> int:
    """Cinder's ``validate_integer(value, name, min_value=-1, max_value=MAX_INT)``."""
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError):
        raise exception.Invalid(f"{name} must be an integer.") from None
    if number < -1:
        raise exception.Invalid(f"{name} must be >= -1")
    if number > MAX_INT:
        raise exception.Invalid(f"{name} must be <= {MAX_INT}")
    return number


@router.put("/{target}")
async def update(target: str, request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "volume:quota:update", {"project_id": target})
    wanted = schemas.require_object(await http.body(request), "quota_set")
    runtime = http.runtime(request)
    async with runtime.db.write() as session:
        known = quota.default_limits(runtime.settings.volume, await quota.type_names(session))
        bad = [key for key in wanted if key not in known and key not in NON_QUOTA_KEYS]
        if bad:
            raise exception.Invalid(f"Bad key(s) in quota set: {','.join(bad)}")
        changes = {k: _limit(k, v) for k, v in wanted.items() if k not in NON_QUOTA_KEYS}
        usage = await quota.project_usage(session, target)
        for name, value in changes.items():
            if name == "per_volume_gigabytes" or value == quota.UNLIMITED:
                continue
            if value < usage.get(name, 0):
                raise exception.Invalid(
                    f"Quota {name} limit must be equal or greater than existing resources."
                )
        await quota.set_limits(session, target, changes)
        limits = await quota.project_limits(session, runtime.settings.volume, target)
    return JSON({"quota_set": limits})


@router.delete("/{target}")
async def reset(
    target: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> Response:
    policy.enforce(ctx, "volume:quota:delete", {"project_id": target})
    async with http.runtime(request).db.write() as session:
        await session.execute(delete(VolumeQuota).where(VolumeQuota.project_id == target))
    return Response(status_code=200)
