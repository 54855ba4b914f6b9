"""``/v3/domains``, ``/v3/projects`` and ``/v3/roles``: Keystone's CRUD shapes."""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.validation import validate
from cumulo.context import RequestContext
from cumulo.identity import manager, schemas, views
from cumulo.identity.routes.common import identity, member, no_content, read_body, require_changes
from cumulo.identity.service import authorize

Ctx = RequestContext


# domains


async def list_domains(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:list_domains")
    found = await manager.list_domains(identity(request), request.query_params)
    return JSON(views.collection(request, "domains", (views.domain(request, d) for d in found)))


async def create_domain(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:create_domain")
    body = validate(schemas.DomainCreate, member(await read_body(request), "domain"), "domain")
    created = await manager.create_domain(identity(request), body)
    return JSON({"domain": views.domain(request, created)}, status_code=201)


async def show_domain(request: Request, domain_id: str, ctx: Ctx = Depends(context)) -> Response:
    async with identity(request).db.read() as session:
        found = await manager.get_domain(session, domain_id)  # 404 before 403, as Keystone
    authorize(ctx, "identity:get_domain", {"id": domain_id})
    return JSON({"domain": views.domain(request, found)})


async def update_domain(request: Request, domain_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:update_domain", {"id": domain_id})
    data = member(await read_body(request), "domain")
    require_changes(data)
    manager.check_immutable(data, {"id": domain_id}, {"id": "Cannot change ID"})
    body = validate(schemas.DomainUpdate, data, "domain")
    updated = await manager.update_domain(identity(request), domain_id, body)
    return JSON({"domain": views.domain(request, updated)})


async def delete_domain(request: Request, domain_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:delete_domain", {"id": domain_id})
    await manager.delete_domain(identity(request), domain_id)
    return no_content()


# projects


async def list_projects(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:list_projects")
    found = await manager.list_projects(identity(request), request.query_params)
    return JSON(views.collection(request, "projects", (views.project(request, p) for p in found)))


async def create_project(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:create_project")
    body = validate(schemas.ProjectCreate, member(await read_body(request), "project"), "project")
    created = await manager.create_project(identity(request), ctx, body)
    return JSON({"project": views.project(request, created)}, status_code=201)


async def show_project(request: Request, project_id: str, ctx: Ctx = Depends(context)) -> Response:
    async with identity(request).db.read() as session:
        found = await manager.get_project(session, project_id)  # 404 before 403, as Keystone
    authorize(ctx, "identity:get_project", {"id": project_id})
    return JSON({"project": views.project(request, found)})


async def update_project(
    request: Request, project_id: str, ctx: Ctx = Depends(context)
) -> Response:
    authorize(ctx, "identity:update_project", {"id": project_id})
    data = member(await read_body(request), "project")
    require_changes(data)
    body = validate(schemas.ProjectUpdate, data, "project")
    updated = await manager.update_project(identity(request), project_id, data, body)
    return JSON({"project": views.project(request, updated)})


async def delete_project(
    request: Request, project_id: str, ctx: Ctx = Depends(context)
) -> Response:
    authorize(ctx, "identity:delete_project", {"id": project_id})
    await manager.delete_project(identity(request), project_id)
    return no_content()


# roles


async def list_roles(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:list_roles")
    found = await manager.list_roles(identity(request), request.query_params)
    return JSON(views.collection(request, "roles", (views.role(request, r) for r in found)))


async def create_role(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:create_role")
    body = validate(schemas.RoleCreate, member(await read_body(request), "role"), "role")
    created = await manager.create_role(identity(request), body)
    return JSON({"role": views.role(request, created)}, status_code=201)


async def show_role(request: Request, role_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:get_role", {"id": role_id})
    async with identity(request).db.read() as session:
        found = await manager.get_role(session, role_id)
    return JSON({"role": views.role(request, found)})


async def update_role(request: Request, role_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:update_role", {"id": role_id})
    data = member(await read_body(request), "role")
    require_changes(data)
    body = validate(schemas.RoleUpdate, data, "role")
    updated = await manager.update_role(identity(request), role_id, data, body)
    return JSON({"role": views.role(request, updated)})


async def delete_role(request: Request, role_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:delete_role", {"id": role_id})
    await manager.delete_role(identity(request), role_id)
    return no_content()
