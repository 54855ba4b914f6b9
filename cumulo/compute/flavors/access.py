"""Which projects may use a private flavor: ``os-flavor-access`` and the flavor actions."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends
from starlette.requests import Request

from cumulo import exception
from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.compute import errors, http
from cumulo.compute.flavors import db as flavors_db
from cumulo.compute.flavors import schemas, views
from cumulo.compute.flavors.db import Viewer
from cumulo.compute.microversions import Feature, supports
from cumulo.compute.projects import InvalidProject, verify_project_id
from cumulo.compute.validation import validate_body
from cumulo.context import RequestContext

Action = Callable[[Request, RequestContext, str, Any], Awaitable[JSON]]


async def index(
    request: Request, flavor_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    policy.enforce(ctx, "compute:flavor_access:index", {"project_id": ctx.project_id})
    async with http.db(request).read() as session:
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
        if flavor.is_public:
            raise errors.FlavorAccessListPublic()
        projects = await flavors_db.projects_of(session, flavor)
    return JSON(views.access_list(flavor, projects))


async def action(
    request: Request, flavor_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    """``POST /flavors/{id}/action``: the one key of the body names the action."""
    body = await read_json(request, http.runtime(request).settings.api.max_body_bytes)
    if not isinstance(body, dict) or len(body) != 1:
        raise exception.Invalid("Malformed request body")
    (name,) = body
    handler = ACTIONS.get(name)
    if handler is None:
        raise exception.Invalid(f"There is no such action: {name}")
    return await handler(request, ctx, flavor_id, body)


async def add_tenant_access(
    request: Request, ctx: RequestContext, flavor_id: str, body: Any
) -> JSON:
    tenant = validate_body(schemas.AddTenantAccess, body).addTenantAccess.tenant
    policy.enforce(ctx, "compute:flavor_access:add_tenant_access", {})
    public_is_conflict = supports(http.version(request), Feature.FLAVOR_ACCESS_PUBLIC_CONFLICT)
    async with http.db(request).write() as session:
        await verify_project_id(session, tenant)
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
        if public_is_conflict and flavor.is_public:
            raise errors.FlavorIsPublic()
        await flavors_db.add_project(session, flavor, tenant)
        projects = await flavors_db.projects_of(session, flavor)
    return JSON(views.access_list(flavor, projects))


async def remove_tenant_access(
    request: Request, ctx: RequestContext, flavor_id: str, body: Any
) -> JSON:
    """Removing access needs no existing project: a deleted one's grants can go too."""
    tenant = validate_body(schemas.RemoveTenantAccess, body).removeTenantAccess.tenant
    policy.enforce(ctx, "compute:flavor_access:remove_tenant_access", {})
    async with http.db(request).write() as session:
        with contextlib.suppress(InvalidProject):
            await verify_project_id(session, tenant)
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
        await flavors_db.remove_project(session, flavor, tenant)
        projects = await flavors_db.projects_of(session, flavor)
    return JSON(views.access_list(flavor, projects))


ACTIONS: dict[str, Action] = {
    "addTenantAccess": add_tenant_access,
    "removeTenantAccess": remove_tenant_access,
}
