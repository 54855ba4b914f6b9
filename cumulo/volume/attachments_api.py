"""``/v3/{project_id}/attachments`` (microversion 3.27+; ``os-complete`` 3.44+)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from cumulo import exception
from cumulo.api import pagination, policy
from cumulo.api.factory import JSON
from cumulo.context import RequestContext
from cumulo.db.models.volume import Volume, VolumeAttachment
from cumulo.volume import attach, http, records, schemas, views
from cumulo.volume.microversions import Feature, supports

router = APIRouter(prefix="/v3/{project_id}")


def _connector(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        schemas.fail("connector", value, f"{value!r} is not of type 'object', 'null'")
    return value


@router.post("/attachments")
async def create(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    http.require(request, Feature.NEW_ATTACH.since)
    args = schemas.require_object(await http.body(request), "attachment")
    instance_uuid = args.get("instance_uuid")
    if not instance_uuid or not isinstance(instance_uuid, str):
        raise exception.Invalid("Must specify 'instance_uuid' to create attachment.")
    volume_uuid = args.get("volume_uuid")
    if not volume_uuid or not isinstance(volume_uuid, str):
        raise exception.Invalid("Must specify 'volume_uuid' to create attachment.")
    mode = "rw"
    if supports(http.version(request), Feature.ATTACHMENT_MODE) and args.get("mode"):
        mode = args["mode"]
        if mode not in ("rw", "ro"):
            schemas.fail("mode", mode, f"{mode!r} is not one of ['rw', 'ro']")
    attachment = await attach.create(
        http.runtime(request),
        ctx,
        volume_uuid,
        instance_uuid,
        _connector(args.get("connector")),
        mode,
    )
    return JSON({"attachment": views.attachment_detail(attachment)})


@router.put("/attachments/{attachment_id}")
async def update(
    attachment_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    http.require(request, Feature.NEW_ATTACH.since)
    args = schemas.require_object(await http.body(request), "attachment")
    connector = _connector(args.get("connector"))
    if not connector:
        raise exception.Invalid("Must specify 'connector' to update attachment.")
    attachment = await attach.update(http.runtime(request), ctx, attachment_id, connector)
    return JSON({"attachment": views.attachment_detail(attachment)})


@router.post("/attachments/{attachment_id}/action")
async def action(
    attachment_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> Response:
    http.require(request, Feature.ATTACHMENT_COMPLETE.since)
    body = await http.body(request)
    if not isinstance(body, dict) or "os-complete" not in body:
        name = next(iter(body), "") if isinstance(body, dict) else ""
        raise exception.Invalid(f"There is no such action: {name}")
    await attach.complete(http.runtime(request), ctx, attachment_id)
    return Response(status_code=204)


@router.delete("/attachments/{attachment_id}")
async def delete(
    attachment_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    http.require(request, Feature.NEW_ATTACH.since)
    remaining = await attach.delete_attachment(http.runtime(request), ctx, attachment_id)
    return JSON({"attachments": [views.attachment_summary(a) for a in remaining]})


async def _list(request: Request, ctx: RequestContext, detail: bool) -> JSON:
    http.require(request, Feature.NEW_ATTACH.since)
    policy.enforce(ctx, "volume:attachment_get_all", {"project_id": ctx.project_id})
    params = dict(request.query_params)
    stmt = select(VolumeAttachment).join(Volume, VolumeAttachment.volume_id == Volume.id)
    if not (ctx.is_admin and "all_tenants" in params):
        stmt = stmt.where(Volume.project_id == ctx.project_id)
    for key, column in (
        ("volume_id", VolumeAttachment.volume_id),
        ("instance_id", VolumeAttachment.instance_uuid),
        ("status", VolumeAttachment.attach_status),
        ("attach_status", VolumeAttachment.attach_status),
    ):
        if key in params:
            stmt = stmt.where(column == params[key])
    max_limit = http.runtime(request).settings.api.max_limit
    limit = pagination.parse_limit(params.get("limit"), max_limit)
    stmt = stmt.order_by(VolumeAttachment.created_at.desc(), VolumeAttachment.id.desc())
    async with http.runtime(request).db.read() as session:
        rows = list(await session.scalars(stmt.limit(limit)))
    view = views.attachment_detail if detail else views.attachment_summary
    return JSON({"attachments": [view(a) for a in rows]})


@router.get("/attachments")
async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    return await _list(request, ctx, detail=False)


@router.get("/attachments/detail")
async def detail(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    return await _list(request, ctx, detail=True)


@router.get("/attachments/{attachment_id}")
async def show(
    attachment_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    http.require(request, Feature.NEW_ATTACH.since)
    async with http.runtime(request).db.read() as session:
        attachment, volume = await records.get_attachment(session, ctx, attachment_id)
    policy.enforce(ctx, "volume:attachment_get", {"project_id": volume.project_id})
    return JSON({"attachment": views.attachment_detail(attachment)})
