"""What every volume handler takes from its request: caller, runtime, version, body."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from cumulo import exception
from cumulo.api.auth import context
from cumulo.api.microversion import APIVersion, api_version
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.runtime import Runtime


async def caller(request: Request) -> RequestContext:
    """FastAPI dependency: the caller, who must name their own project in the URL.

    Cinder answers a URL with another project's id (and no admin role) with
    "not authorized"; an admin may act through any project's URL.
    """
    ctx = await context(request)
    url_project = request.path_params.get("project_id")
    if url_project and url_project != ctx.project_id and not ctx.is_admin:
        raise exception.Forbidden()
    return ctx


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def version(request: Request) -> APIVersion:
    return api_version(request)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def body(request: Request) -> Any:
    return await read_json(request, runtime(request).settings.api.max_body_bytes)


def require(request: Request, since: APIVersion) -> None:
    """404 for a route that exists only from microversion ``since``, as Cinder answers."""
    asked = version(request)
    if asked < since:
        raise exception.NotFound(f"API version {asked} is not supported on this method.")
