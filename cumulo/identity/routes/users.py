"""``/v3/users``: CRUD, a user's projects, and the self-service password change."""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.validation import validate
from cumulo.context import RequestContext
from cumulo.identity import users, views
from cumulo.identity.routes.common import identity, member, no_content, read_body, require_changes
from cumulo.identity.schemas import PasswordChange, UserCreate, UserUpdate
from cumulo.identity.service import authorize

Ctx = RequestContext


async def list_users(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:list_users")
    found = await users.list_users(identity(request), request.query_params)
    return JSON(views.collection(request, "users", (views.user(request, u) for u in found)))


async def create_user(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:create_user")
    body = validate(UserCreate, member(await read_body(request), "user"), "user")
    created = await users.create_user(identity(request), ctx, body)
    return JSON({"user": views.user(request, created)}, status_code=201)


async def show_user(request: Request, user_id: str, ctx: Ctx = Depends(context)) -> Response:
    async with identity(request).db.read() as session:
        found = await users.get_user(session, user_id)  # 404 before 403, as Keystone
    authorize(ctx, "identity:get_user", {"id": user_id})
    return JSON({"user": views.user(request, found)})


async def update_user(request: Request, user_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:update_user", {"id": user_id})
    data = member(await read_body(request), "user")
    require_changes(data)
    body = validate(UserUpdate, data, "user")
    updated = await users.update_user(identity(request), user_id, data, body)
    return JSON({"user": views.user(request, updated)})


async def delete_user(request: Request, user_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:delete_user", {"id": user_id})
    await users.delete_user(identity(request), user_id)
    return no_content()


async def list_user_projects(
    request: Request, user_id: str, ctx: Ctx = Depends(context)
) -> Response:
    authorize(ctx, "identity:list_user_projects", {"user_id": user_id})
    async with identity(request).db.read() as session:
        await users.get_user(session, user_id)
        found = await users.projects_of_user(session, user_id)
    return JSON(views.collection(request, "projects", (views.project(request, p) for p in found)))


async def change_password(request: Request, user_id: str) -> Response:
    """No token needed, as in Keystone: the original password is the credential."""
    body = validate(PasswordChange, member(await read_body(request), "user"), "user")
    await users.change_password(identity(request), user_id, body)
    return no_content()
