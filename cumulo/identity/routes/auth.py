"""``/v3/auth``: issue, validate, check and revoke tokens; what a token may scope to."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo import exception
from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.context import RequestContext
from cumulo.identity import views
from cumulo.identity.auth import issue_token, revoke
from cumulo.identity.auth_request import parse_auth_request
from cumulo.identity.catalog import render_catalog
from cumulo.identity.errors import TokenNotFound
from cumulo.identity.routes.common import identity, no_content, read_body
from cumulo.identity.service import IdentityService, authorize
from cumulo.identity.tokens import ValidatedToken
from cumulo.identity.users import domains_of_user, projects_of_user

# Until the policy table has these rules: admin, or the token's own user (Keystone's
# "token_subject"); any token may list its own projects, domains and catalog.


async def _catalog(
    svc: IdentityService, token: ValidatedToken, request: Request
) -> list[dict[str, Any]] | None:
    if "nocatalog" in request.query_params or token.unscoped:
        return None
    project_id = token.project.id if token.project else None
    return render_catalog(await svc.catalog.get(), project_id)


async def create_token(request: Request) -> Response:
    svc = identity(request)
    auth = parse_auth_request(await read_body(request))
    token, data = await issue_token(svc, auth)
    body = views.token(data, await _catalog(svc, data, request))
    return JSON(body, status_code=201, headers={"X-Subject-Token": token})


async def _subject(
    request: Request, ctx: RequestContext, action: str
) -> tuple[str, ValidatedToken]:
    subject = request.headers.get("x-subject-token")
    try:
        if not subject:
            raise exception.NotAuthenticated()
        data = await identity(request).validator.load(subject)
    except exception.NotAuthenticated:
        raise TokenNotFound(token_id=subject) from None
    authorize(ctx, action, {"user_id": data.user_id})
    return subject, data


async def validate_token(request: Request, ctx: RequestContext = Depends(context)) -> Response:
    subject, data = await _subject(request, ctx, "identity:validate_token")
    body = views.token(data, await _catalog(identity(request), data, request))
    return JSON(body, headers={"X-Subject-Token": subject})


async def check_token(request: Request, ctx: RequestContext = Depends(context)) -> Response:
    subject, _data = await _subject(request, ctx, "identity:check_token")
    return Response(status_code=200, headers={"X-Subject-Token": subject})


async def revoke_token(request: Request, ctx: RequestContext = Depends(context)) -> Response:
    _subject_token, data = await _subject(request, ctx, "identity:revoke_token")
    await revoke(identity(request), data.token_hash)
    return no_content()


async def auth_projects(request: Request, ctx: RequestContext = Depends(context)) -> Response:
    svc = identity(request)
    assert ctx.user_id is not None
    async with svc.db.read() as session:
        projects = await projects_of_user(session, ctx.user_id, enabled_only=True)
    return JSON(
        views.collection(request, "projects", (views.project(request, p) for p in projects))
    )


async def auth_domains(request: Request, ctx: RequestContext = Depends(context)) -> Response:
    svc = identity(request)
    assert ctx.user_id is not None
    async with svc.db.read() as session:
        domains = await domains_of_user(session, ctx.user_id)
    return JSON(views.collection(request, "domains", (views.domain(request, d) for d in domains)))


async def auth_catalog(request: Request, ctx: RequestContext = Depends(context)) -> Response:
    if ctx.project_id is None:
        raise exception.Forbidden()  # Keystone: a project-scoped token is required
    catalog = render_catalog(await identity(request).catalog.get(), ctx.project_id)
    return JSON(views.collection(request, "catalog", catalog))
