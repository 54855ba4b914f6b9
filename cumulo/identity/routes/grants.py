"""Role grants on projects and domains, and ``/v3/role_assignments``."""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.context import RequestContext
from cumulo.identity import assignments, views
from cumulo.identity.roles import DOMAIN, PROJECT
from cumulo.identity.routes.common import identity, no_content
from cumulo.identity.service import authorize

Ctx = RequestContext


def _target(request: Request) -> tuple[str, str]:
    params = request.path_params
    if "project_id" in params:
        return PROJECT, params["project_id"]
    return DOMAIN, params["domain_id"]


async def put_grant(
    request: Request, user_id: str, role_id: str, ctx: Ctx = Depends(context)
) -> Response:
    kind, target_id = _target(request)
    authorize(ctx, "identity:create_grant", {"user_id": user_id, f"{kind}_id": target_id})
    await assignments.grant(identity(request), kind, target_id, user_id, role_id)
    return no_content()


async def check_grant(
    request: Request, user_id: str, role_id: str, ctx: Ctx = Depends(context)
) -> Response:
    kind, target_id = _target(request)
    authorize(ctx, "identity:check_grant", {"user_id": user_id, f"{kind}_id": target_id})
    await assignments.check_grant(identity(request), kind, target_id, user_id, role_id)
    return no_content()


async def revoke_grant(
    request: Request, user_id: str, role_id: str, ctx: Ctx = Depends(context)
) -> Response:
    kind, target_id = _target(request)
    authorize(ctx, "identity:revoke_grant", {"user_id": user_id, f"{kind}_id": target_id})
    await assignments.revoke(identity(request), kind, target_id, user_id, role_id)
    return no_content()


async def list_grants(request: Request, user_id: str, ctx: Ctx = Depends(context)) -> Response:
    kind, target_id = _target(request)
    authorize(ctx, "identity:list_grants", {"user_id": user_id, f"{kind}_id": target_id})
    roles = await assignments.list_grants(identity(request), kind, target_id, user_id)
    return JSON(views.collection(request, "roles", (views.role(request, r) for r in roles)))


async def list_role_assignments(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:list_role_assignments")
    found = await assignments.list_assignments(identity(request), request.query_params)
    entries = (views.assignment(request, a) for a in found)
    return JSON(views.collection(request, "role_assignments", entries))
