"""``/flavors``: list, show, create, describe and delete flavors."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo import exception
from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.compute import http, query
from cumulo.compute.flavors import db as flavors_db
from cumulo.compute.flavors import schemas, views
from cumulo.compute.flavors.db import AnyFlavor, FlavorFilters, FlavorPage, Viewer
from cumulo.compute.microversions import Feature, pick, supports
from cumulo.compute.validation import MAX_INT, SQL_SP_FLOAT_MAX, validate_body
from cumulo.context import RequestContext
from cumulo.db.base import new_uuid
from cumulo.db.models.compute import Flavor

_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    flavors, links = await _list(request, ctx, "flavors")
    version = http.version(request)
    body: dict[str, Any] = {"flavors": [views.brief(request, f, version) for f in flavors]}
    if links:
        body["flavors_links"] = links
    return JSON(body)


async def detail(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    flavors, links = await _list(request, ctx, "flavors/detail")
    version, specs = http.version(request), _may_read_extra_specs(ctx)
    body: dict[str, Any] = {"flavors": [views.detail(request, f, version, specs) for f in flavors]}
    if links:
        body["flavors_links"] = links
    return JSON(body)


async def show(
    request: Request, flavor_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    policy.enforce(ctx, "compute:flavors:show", {"project_id": ctx.project_id})
    async with http.db(request).read() as session:
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
    return _one(request, ctx, flavor)


async def create(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    version = http.version(request)
    body = validate_body(pick(version, schemas.CREATE), await _read(request))
    policy.enforce(ctx, "compute:flavors:create", {})
    values = _new_flavor_values(body.flavor)
    async with http.db(request).write() as session:
        flavor = await flavors_db.create_flavor(session, values)
    return _one(request, ctx, flavor)


async def update(
    request: Request, flavor_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    if not supports(http.version(request), Feature.FLAVOR_DESCRIPTION):
        raise exception.NotFound("The resource could not be found.")
    body = validate_body(schemas.UpdateBody, await _read(request))
    policy.enforce(ctx, "compute:flavors:update", {})
    async with http.db(request).write() as session:
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
        flavor = await flavors_db.set_description(session, flavor, body.flavor.description)
    return _one(request, ctx, flavor)


async def delete(
    request: Request, flavor_id: str, ctx: RequestContext = Depends(http.caller)
) -> Response:
    policy.enforce(ctx, "compute:flavors:delete", {})
    async with http.db(request).write() as session:
        await flavors_db.delete_flavor(session, flavor_id)
    return Response(status_code=202)


async def _read(request: Request) -> Any:
    return await read_json(request, http.runtime(request).settings.api.max_body_bytes)


def _may_read_extra_specs(ctx: RequestContext) -> bool:
    return policy.check(ctx, "compute:flavor_extra_specs:index", {"project_id": ctx.project_id})


def _one(request: Request, ctx: RequestContext, flavor: AnyFlavor) -> JSON:
    version = http.version(request)
    return JSON({"flavor": views.detail(request, flavor, version, _may_read_extra_specs(ctx))})


async def _list(
    request: Request, ctx: RequestContext, collection: str
) -> tuple[list[Flavor], list[dict[str, str]]]:
    """The page of flavors a list request asks for, and its ``next`` link."""
    policy.enforce(ctx, "compute:flavors:index", {"project_id": ctx.project_id})
    strict = supports(http.version(request), Feature.STRICT_QUERY)
    params = query.validate_query(request, schemas.LIST_QUERY, strict)
    page = FlavorPage(
        sort_key=query.last(params, "sort_key") or "flavorid",
        descending=(query.last(params, "sort_dir") or "asc") == "desc",
        limit=http.page_limit(request, params),
        marker=query.last(params, "marker"),
    )
    async with http.db(request).read() as session:
        flavors = await flavors_db.list_flavors(
            session, Viewer.of(ctx), _filters(ctx, params), page
        )
    links = http.collection_links(request, collection, flavors, params, _flavorid)
    return flavors, links


def _flavorid(flavor: Flavor) -> str:
    return flavor.flavorid


def _filters(ctx: RequestContext, params: query.Params) -> FlavorFilters:
    """Only admins choose public/private; others see public ones and those shared with them."""
    if ctx.is_admin:
        is_public, disabled = _parse_is_public(query.last(params, "is_public")), None
    else:
        is_public, disabled = True, False
    return FlavorFilters(
        is_public=is_public,
        disabled=disabled,
        min_memory_mb=_int_filter(params, "minRam"),
        min_root_gb=_int_filter(params, "minDisk"),
    )


def _parse_is_public(raw: str | None) -> bool | None:
    if raw is None:
        return True
    if raw.lower() == "none":
        return None
    text = raw.strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise exception.Invalid(f"Invalid is_public filter [{raw}]")


def _int_filter(params: query.Params, name: str) -> int | None:
    raw = query.last(params, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise exception.Invalid(f"Invalid {name} filter [{raw}]") from None


def _new_flavor_values(new: schemas.NewFlavor) -> dict[str, Any]:
    """The columns of a new flavor, converted as Nova's ``flavors.create`` converts them."""
    rxtx = float(new.rxtx_factor)
    if not 0 < rxtx <= SQL_SP_FLOAT_MAX:
        raise exception.InvalidInput(
            reason=f"'rxtx_factor' argument must be a float between 0 and {SQL_SP_FLOAT_MAX:g}"
        )
    return {
        "flavorid": str(new.id) if new.id else new_uuid(),
        "name": new.name.strip(),
        "memory_mb": _integer(new.ram, "ram"),
        "vcpus": _integer(new.vcpus, "vcpus"),
        "root_gb": _integer(new.disk, "disk"),
        "ephemeral_gb": _integer(new.ephemeral, "ephemeral"),
        "swap": _integer(new.swap, "swap"),
        "rxtx_factor": rxtx,
        "is_public": new.is_public,
        "description": new.described(),
    }


def _integer(value: Any, name: str) -> int:
    """``int(str(value))`` as Nova does: 512.0 passes the schema but is no integer."""
    try:
        number = int(str(value))
    except ValueError:
        raise exception.InvalidInput(reason=f"{name} must be an integer") from None
    if number > MAX_INT:
        raise exception.InvalidInput(reason=f"{name} must be <= {MAX_INT}")
    return number
