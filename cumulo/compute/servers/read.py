"""``GET /servers``, ``GET /servers/detail``, ``GET /servers/{id}`` and ``PUT /servers/{id}``.

A caller sees its project's live servers; an admin sees any server, and
lists other projects' with ``all_tenants``. Another project's server, or a
deleted one, is "not found" (Nova reads live rows only, for admins too).
What a list selects is ``listing``'s business, what a body shows ``views``'.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from starlette.requests import Request

from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.compute import http, query
from cumulo.compute.http import Route
from cumulo.compute.instances import get_instance
from cumulo.compute.servers import listing, query_schemas, views
from cumulo.compute.validation import validate_body
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance

COLLECTION = views.COLLECTION


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    return await _list(request, ctx, detail=False)


async def detail(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    return await _list(request, ctx, detail=True)


async def show(
    request: Request, server_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    async with http.db(request).read() as session:
        instance = await get_instance(session, ctx, server_id)
        policy.enforce(ctx, "compute:servers:show", {"project_id": instance.project_id})
        body = await views.show_body(session, request, ctx, instance)
    return JSON(body)


async def update(
    request: Request, server_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    """Rename, describe or re-hostname a server; answers its body as the version shows it."""
    version = http.version(request)
    raw = await read_json(request, http.runtime(request).settings.api.max_body_bytes)
    changes = validate_body(query_schemas.update_body(version), raw).server
    async with http.db(request).write() as session:
        instance = await get_instance(session, ctx, server_id)
        policy.enforce(
            ctx,
            "compute:servers:update",
            {"project_id": instance.project_id, "user_id": instance.user_id},
        )
        for column, value in _update_values(changes).items():
            setattr(instance, column, value)
        await session.flush()
        body = await views.show_body(session, request, ctx, instance, views.View.UPDATE)
    return JSON(body)


def _update_values(changes: query_schemas.ServerUpdate) -> dict[str, Any]:
    """The columns a ``PUT`` body changes (Nova's ``update`` + ``translate_attributes``)."""
    sent = changes.model_fields_set
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["display_name"] = changes.name.strip()
    if "description" in sent:
        values["display_description"] = getattr(changes, "description", None)
    hostname = getattr(changes, "hostname", None)
    if hostname is not None:
        values["hostname"] = hostname
    if changes.accessIPv4 is not None:
        values["access_ip_v4"] = changes.accessIPv4
    if changes.accessIPv6 is not None:
        values["access_ip_v6"] = changes.accessIPv6
    if changes.disk_config is not None:
        values["auto_disk_config"] = changes.disk_config == "AUTO"
    return values


async def _list(request: Request, ctx: RequestContext, *, detail: bool) -> JSON:
    version = http.version(request)
    params = query_schemas.list_query(request, version)
    action = "detail" if detail else "index"
    policy.enforce(ctx, f"compute:servers:{action}", {"project_id": ctx.project_id})
    search = listing.search_for(ctx, params, version, http.page_limit(request, params))
    async with http.db(request).read() as session:
        found = await listing.find(session, search)
        if detail:
            servers = await views.show_bodies(session, request, ctx, found, detail=True)
        else:
            servers = [views.basic(request, instance) for instance in found]
    body: dict[str, Any] = {"servers": servers}
    collection = f"{COLLECTION}/detail" if detail else COLLECTION
    links = http.collection_links(request, collection, found, _all_params(request), _uuid)
    if links:
        body["servers_links"] = links
    return JSON(body)


def _all_params(request: Request) -> query.Params:
    """Every query parameter, which Nova's next link repeats (even those it ignored)."""
    params: query.Params = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


def _uuid(instance: Instance) -> str:
    return instance.uuid


_SERVER = "/v2.1/servers/{server_id}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/v2.1/servers", index, "servers:index"),
    Route("GET", "/v2.1/servers/detail", detail, "servers:detail"),
    Route("GET", _SERVER, show, "servers:show"),
    Route("PUT", _SERVER, update, "servers:update"),
)
