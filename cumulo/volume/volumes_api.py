"""``/v3/{project_id}/volumes``: create, list, show, update, delete and the volume actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api import pagination, policy
from cumulo.api.factory import JSON
from cumulo.context import RequestContext
from cumulo.db.models.volume import Volume
from cumulo.volume import actions, http, listing, records, schemas, service, views
from cumulo.volume.errors import InvalidInput

router = APIRouter(prefix="/v3/{project_id}")


def _detail(request: Request, ctx: RequestContext, volume: Volume) -> dict[str, Any]:
    return views.volume_detail(volume, ctx, http.version(request), http.base_url(request))


@router.post("/volumes", status_code=202)
async def create(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    body = await http.body(request)
    req = schemas.parse_create(body)
    unsupported = schemas.unsupported_sources(body)
    if unsupported:
        raise InvalidInput(
            reason=f"Creating a volume from {unsupported[0]} is not supported by this cloud."
        )
    volume = await service.create_volume(http.runtime(request), ctx, req)
    return JSON({"volume": _detail(request, ctx, volume)}, status_code=202)


async def _list(request: Request, ctx: RequestContext, detail: bool) -> JSON:
    policy.enforce(ctx, "volume:get_all", {"project_id": ctx.project_id})
    runtime = http.runtime(request)
    max_limit = runtime.settings.api.max_limit
    async with runtime.db.read() as session:
        rows, asked, count = await listing.list_volumes(session, ctx, request, max_limit)
    base = http.base_url(request)
    items = [_detail(request, ctx, v) if detail else views.volume_summary(v, base) for v in rows]
    body: dict[str, Any] = {"volumes": items}
    href = f"{base}/v3/{request.path_params['project_id']}/volumes" + ("/detail" if detail else "")
    next_links = pagination.next_links(request, items, asked, max_limit, href=href)
    if next_links:
        body["volumes_links"] = next_links
    if count is not None:
        body["count"] = count
    return JSON(body)


@router.get("/volumes")
async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    return await _list(request, ctx, detail=False)


@router.get("/volumes/detail")
async def detail(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    return await _list(request, ctx, detail=True)


@router.get("/volumes/{volume_id}")
async def show(
    volume_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    async with http.runtime(request).db.read() as session:
        volume = await records.get_volume(session, ctx, volume_id)
    policy.enforce(ctx, "volume:get", {"project_id": volume.project_id})
    return JSON({"volume": _detail(request, ctx, volume)})


@router.put("/volumes/{volume_id}")
async def update(
    volume_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    changes = schemas.parse_update(await http.body(request)).changes
    runtime = http.runtime(request)
    async with runtime.db.write() as session:
        volume = await records.get_volume(session, ctx, volume_id)
        policy.enforce(ctx, "volume:update", {"project_id": volume.project_id})
        for column, value in changes.items():
            setattr(volume, column, value)
    volume = await service.reload(runtime, ctx, volume_id)
    return JSON({"volume": _detail(request, ctx, volume)})


@router.delete("/volumes/{volume_id}", status_code=202)
async def delete(
    volume_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> Response:
    await service.delete_volume(http.runtime(request), ctx, volume_id)
    return Response(status_code=202)


@router.post("/volumes/{volume_id}/action")
async def action(
    volume_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> Response:
    return await actions.dispatch(http.runtime(request), ctx, volume_id, await http.body(request))
