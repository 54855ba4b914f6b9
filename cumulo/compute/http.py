"""What every compute handler takes from its request: caller, database, settings, version, links.

Nova still answers the pre-2.18 URL form ``/v2.1/{project_id}/flavors``;
``LegacyProjectPath`` strips the project id so one route table serves both
forms, remembers it so links keep the same form, and ``caller`` refuses a URL
naming another project than the token's, as Nova does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cumulo import exception
from cumulo.api import pagination
from cumulo.api.auth import context
from cumulo.api.microversion import APIVersion, api_version
from cumulo.compute import query
from cumulo.config import ComputeSettings
from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.runtime import Runtime

API_PREFIX = "v2.1"
_URL_PROJECT = "url_project_id"
_LEGACY = re.compile(r"^/v2\.1/([0-9a-fA-F]{32}|[0-9a-fA-F-]{36})(/.*)?$")


@dataclass(frozen=True)
class Route:
    """One row of the compute route table (``cumulo.compute.routes``)."""

    method: str
    path: str
    endpoint: Callable[..., Any]
    name: str


class LegacyProjectPath:
    """Serve ``/v2.1/{project_id}/…`` as ``/v2.1/…``, keeping the project id in the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = scope.get("root_path", "")
            path: str = scope["path"]
            route = path[len(root) :] if root and path.startswith(root) else path
            match = _LEGACY.match(route)
            if match:
                scope = dict(scope)
                scope["path"] = f"{root}/{API_PREFIX}{match.group(2) or '/'}"
                scope["raw_path"] = scope["path"].encode()
                scope.setdefault("state", {})
                scope["state"] = {**scope["state"], _URL_PROJECT: match.group(1)}
        await self.app(scope, receive, send)


async def caller(request: Request) -> RequestContext:
    """FastAPI dependency: the authenticated caller of a compute request."""
    ctx = await context(request)
    url_project = getattr(request.state, _URL_PROJECT, None)
    if url_project and url_project != ctx.project_id:
        raise exception.Invalid(
            f"Malformed request URL: URL's project_id '{url_project}' doesn't match "
            f"Context's project_id '{ctx.project_id}'"
        )
    return ctx


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def db(request: Request) -> Database:
    return runtime(request).db


def settings(request: Request) -> ComputeSettings:
    return runtime(request).settings.compute


def max_limit(request: Request) -> int:
    return runtime(request).settings.api.max_limit


def page_limit(request: Request, params: query.Params) -> int:
    """The page size of a list request: its last ``limit``, capped by the configured maximum."""
    return pagination.parse_limit(query.last(params, "limit"), max_limit(request))


def limit_or_max(request: Request, params: query.Params) -> int:
    """Nova's page size where ``limit`` 0 (or none) means the maximum."""
    cap = max_limit(request)
    return min(int(query.last(params, "limit") or 0) or cap, cap)


def version(request: Request) -> APIVersion:
    return api_version(request)


# --- links -----------------------------------------------------------------------------


def _parts(request: Request) -> list[str]:
    project = getattr(request.state, _URL_PROJECT, None)
    return [project] if project else []


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])


def resource_links(request: Request, collection: str, ident: str) -> list[dict[str, str]]:
    """Nova's ``self`` (versioned) and ``bookmark`` (unversioned) links of one resource."""
    base = str(request.base_url)
    tail = [*_parts(request), collection, str(ident)]
    return [
        {"rel": "self", "href": _join(base, API_PREFIX, *tail)},
        {"rel": "bookmark", "href": _join(base, *tail)},
    ]


def collection_links(
    request: Request,
    collection: str,
    items: Sequence[Any],
    params: query.Params,
    marker_of: Callable[[Any], str],
) -> list[dict[str, str]]:
    """A ``next`` link when a page is full, as Nova's ``_get_collection_links`` makes it.

    ``params`` are the query parameters the request kept; the link repeats
    them (last value of each, sorted by name) with the new ``marker``, on the
    same URL form (with or without project id) the request used.
    """
    href = _join(str(request.base_url), API_PREFIX, *_parts(request), collection)
    return pagination.next_links(
        request,
        items,
        page_limit(request, params),
        max_limit(request),
        marker_of,
        href=href,
        params=[(name, values[-1]) for name, values in sorted(params.items())],
    )
