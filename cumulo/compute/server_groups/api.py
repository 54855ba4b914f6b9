"""``/os-server-groups``: list, create, show and delete the groups a project places servers by.

A group counts against its project's ``server_groups`` quota, checked before
the group is written (under the project's quota lock) and checked again
after, as Nova rechecks, so that creates racing each other cannot together
pass the limit. Create answers 200, as Nova does; another project's group is
not found (404), except for admins, who see every group.
"""

from __future__ import annotations

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.microversion import APIVersion
from cumulo.api.validation import read_json
from cumulo.compute import http, query
from cumulo.compute import quota as quotas
from cumulo.compute.http import Route
from cumulo.compute.microversions import Feature, supports
from cumulo.compute.server_groups import db, schemas, views
from cumulo.compute.server_groups.errors import RulesNotSupported, ServerGroupLimitExceeded
from cumulo.compute.validation import validate_body
from cumulo.config import ComputeSettings
from cumulo.context import RequestContext
from cumulo.db.base import new_uuid
from cumulo.db.locks import hold_row
from cumulo.db.models.instances import ComputeQuotaLock, ServerGroup
from cumulo.exception import OverQuota

V2_15 = APIVersion.parse("2.15")
V2_64 = APIVersion.parse("2.64")


def _create_model(version: APIVersion) -> type[schemas.AnyCreateBody]:
    if version >= V2_64:
        return schemas.CreateBodyV264
    return schemas.CreateBodyV215 if version >= V2_15 else schemas.CreateBody


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    version = http.version(request)
    strict = supports(version, Feature.STRICT_QUERY)
    params = query.validate_query(request, schemas.INDEX_QUERY, strict)
    target = {"project_id": ctx.project_id}
    policy.enforce(ctx, "compute:server_groups:index", target)
    # Nova ignores all_projects from a non-admin (its own groups), rather than refusing it.
    all_projects = "all_projects" in params and ctx.is_admin
    if all_projects:
        policy.enforce(ctx, "compute:server_groups:index:all_projects", target)
    cap = http.max_limit(request)
    limit = min(int(query.last(params, "limit") or 0) or cap, cap)
    offset = int(query.last(params, "offset") or 0)
    async with http.db(request).read() as session:
        project = None if all_projects else ctx.project_id
        groups = await db.list_groups(session, project, limit, offset)
        members = await db.live_members(session, groups)
    return JSON({"server_groups": [views.group(g, members[g.id], version) for g in groups]})


async def show(request: Request, group_id: str, ctx: RequestContext = Depends(http.caller)) -> JSON:
    async with http.db(request).read() as session:
        group = await db.get_group(session, ctx, group_id)
        policy.enforce(ctx, "compute:server_groups:show", {"project_id": group.project_id})
        members = await db.live_members(session, [group])
    return JSON({"server_group": views.group(group, members[group.id], http.version(request))})


async def delete(
    request: Request, group_id: str, ctx: RequestContext = Depends(http.caller)
) -> Response:
    async with http.db(request).write() as session:
        group = await db.get_group(session, ctx, group_id)
        policy.enforce(ctx, "compute:server_groups:delete", {"project_id": group.project_id})
        await db.delete_group(session, group.id)
    return Response(status_code=204)


async def create(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    version = http.version(request)
    raw = await read_json(request, http.runtime(request).settings.api.max_body_bytes)
    new = validate_body(_create_model(version), raw).server_group
    policy.enforce(ctx, "compute:server_groups:create", {"project_id": ctx.project_id})
    draft = ServerGroup(
        uuid=new_uuid(),
        name=new.name,
        project_id=ctx.project_id,
        user_id=ctx.user_id,
        policy=new.policy,
        rules=new.rules.stored(),
    )
    group = await _store(request, draft)
    return JSON({"server_group": views.group(group, [], version)})


async def _fits(
    session: AsyncSession, settings: ComputeSettings, project_id: str | None, delta: int
) -> bool:
    try:
        await quotas.check_deltas(session, settings, project_id, {"server_groups": delta})
    except OverQuota:
        return False
    return True


async def _store(request: Request, draft: ServerGroup) -> ServerGroup:
    """Check the quota and insert; then recheck, removing the group if a racing create won.

    The project's quota lock (the one server creates take) makes concurrent
    creates count one after another, so the recheck only catches what the
    lock cannot, such as a quota lowered meanwhile.
    """
    settings = http.settings(request)
    async with http.db(request).write() as session:
        await hold_row(session, ComputeQuotaLock, project_id=draft.project_id or "")
        if not await _fits(session, settings, draft.project_id, 1):
            raise ServerGroupLimitExceeded()
        if draft.policy != "anti-affinity" and draft.rules:
            raise RulesNotSupported()
        group = await db.create_group(session, draft)
    async with http.db(request).write() as session:
        raced = not await _fits(session, settings, draft.project_id, 0)
        if raced:
            await db.delete_group(session, group.id)
    if raced:
        raise ServerGroupLimitExceeded()
    return group


_GROUPS = "/v2.1/os-server-groups"

ROUTES: tuple[Route, ...] = (
    Route("GET", _GROUPS, index, "server_groups:index"),
    Route("POST", _GROUPS, create, "server_groups:create"),
    Route("GET", _GROUPS + "/{group_id}", show, "server_groups:show"),
    Route("DELETE", _GROUPS + "/{group_id}", delete, "server_groups:delete"),
)
