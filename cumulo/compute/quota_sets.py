"""``/os-quota-sets/{project_id}``: show, detail (with usage), defaults, update and reset.

Limits live in ``quota.py``; this module is their HTTP face. Which resources a
quota set shows depends on the microversion: 2.36 drops the nova-network
quotas, 2.57 the injected-file ones (the same steps that ``/limits`` takes).
Per-user quotas are not kept: ``user_id`` on a read shows the project's
limits (which is what Nova shows for a user without quotas of their own); on
a write it is refused rather than silently applied to the whole project.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, PlainValidator, create_model
from sqlalchemy import delete
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.microversion import APIVersion
from cumulo.api.validation import read_json
from cumulo.compute import errors, http, query
from cumulo.compute import quota as quotas
from cumulo.compute.microversions import Feature, supports
from cumulo.compute.validation import MAX_INT, Boolean, check_pattern, check_range, fail
from cumulo.compute.validation import validate_body as validate
from cumulo.context import RequestContext
from cumulo.db.models.compute import Quota

NETWORK_QUOTAS = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups")
PERSONALITY_QUOTAS = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
QUERY: dict[str, query.Check] = {"user_id": query.any_string}


def shown(version: APIVersion) -> tuple[str, ...]:
    """The resources a quota set shows at ``version``, in Nova's order."""
    hidden: set[str] = set()
    if supports(version, Feature.LIMITS_WITHOUT_NETWORK):
        hidden.update(NETWORK_QUOTAS)
    if supports(version, Feature.LIMITS_WITHOUT_PERSONALITY):
        hidden.update(PERSONALITY_QUOTAS)
    return tuple(r for r in quotas.RESOURCES if r not in hidden)


def _limit(value: Any) -> int:
    """Nova's quota value: an integer, or a string of one, from -1 (unlimited) up."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        fail(f"{value!r} is not of type 'integer', 'string'")
    if isinstance(value, str):
        check_pattern(value, "^-?[0-9]+$")
    check_range(value, -1, MAX_INT)
    return int(value)


Limit = Annotated[int, PlainValidator(_limit)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@functools.cache
def _body_model(names: tuple[str, ...]) -> type[BaseModel]:
    """The PUT body schema for the resources ``names`` (built once per set of names)."""
    fields: dict[str, Any] = {name: (Limit | None, None) for name in names}
    quota_set = create_model("QuotaSet", __base__=_Strict, force=(Boolean, False), **fields)
    return create_model("UpdateBody", __base__=_Strict, quota_set=(quota_set, ...))


def _quota_set(project_id: str, limits: dict[str, int], version: APIVersion) -> JSON:
    return JSON({"quota_set": {"id": project_id, **{n: limits[n] for n in shown(version)}}})


async def _params(request: Request) -> query.Params:
    return query.validate_query(
        request, QUERY, supports(http.version(request), Feature.STRICT_QUERY)
    )


def _no_user_quotas(params: query.Params) -> None:
    if query.last(params, "user_id"):
        raise errors.ValidationError(detail="Per-user quotas are not supported by this cloud.")


async def show(
    project_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    await _params(request)
    policy.enforce(ctx, "compute:quota_sets:show", {"project_id": project_id})
    async with http.db(request).read() as session:
        limits = await quotas.project_limits(session, http.settings(request), project_id)
    return _quota_set(project_id, limits, http.version(request))


async def detail(
    project_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    await _params(request)
    policy.enforce(ctx, "compute:quota_sets:detail", {"project_id": project_id})
    async with http.db(request).read() as session:
        limits = await quotas.project_limits(session, http.settings(request), project_id)
        usage = await quotas.project_usage(session, project_id)
    body: dict[str, Any] = {"id": project_id}
    for name in shown(http.version(request)):
        body[name] = {"limit": limits[name], "in_use": usage.get(name, 0), "reserved": 0}
    return JSON({"quota_set": body})


async def defaults(
    project_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    policy.enforce(ctx, "compute:quota_sets:defaults", {"project_id": project_id})
    limits = quotas.default_limits(http.settings(request))
    return _quota_set(project_id, limits, http.version(request))


async def update(
    project_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    version = http.version(request)
    params = await _params(request)
    body = await read_json(request, http.runtime(request).settings.api.max_body_bytes)
    wanted = validate(_body_model(shown(version)), body).quota_set  # type: ignore[attr-defined]
    policy.enforce(ctx, "compute:quota_sets:update", {"project_id": project_id})
    _no_user_quotas(params)
    changes = {
        name: value
        for name, value in wanted.model_dump(exclude={"force"}).items()
        if value is not None
    }
    settings = http.settings(request)
    async with http.db(request).write() as session:
        if not wanted.force:
            usage = await quotas.project_usage(session, project_id)
            for name, value in sorted(changes.items()):
                used = usage.get(name, 0)
                if value != quotas.UNLIMITED and value < used:
                    raise errors.ValidationError(
                        detail=f"Quota limit {value} for {name} must be greater than or "
                        f"equal to already used and reserved {used}."
                    )
        await quotas.set_limits(session, project_id, changes)
        limits = await quotas.project_limits(session, settings, project_id)
    return JSON({"quota_set": {n: limits[n] for n in shown(version)}})


async def reset(
    project_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> Response:
    params = await _params(request)
    policy.enforce(ctx, "compute:quota_sets:delete", {"project_id": project_id})
    _no_user_quotas(params)
    async with http.db(request).write() as session:
        await session.execute(delete(Quota).where(Quota.project_id == project_id))
    return Response(status_code=202)
