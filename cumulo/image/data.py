"""Glance v2 image data: upload (``PUT …/file``) and download (``GET …/file``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.requests import ClientDisconnect

from cumulo import exception
from cumulo.api.policy import enforce
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.image import Image
from cumulo.image import records, store
from cumulo.image.errors import ImageDeactivated, InvalidImageData, InvalidStatusTransition
from cumulo.image.format_inspector import UnsafeImage, check_declared, inspect_file
from cumulo.image.images import Ctx, owner_target
from cumulo.image.images import store as image_store
from cumulo.image.store import ImageStore, Written

router = APIRouter()
UPLOAD_TYPES = {"", "application/octet-stream"}
# Bytes of image data one project may store (Glance's ``image_size_total``); -1: unlimited.
IMAGE_SIZE_TOTAL = -1


async def _begin(request: Request, ctx: RequestContext, image_id: str) -> tuple[str | None, int]:
    """Move the image to ``saving``; its declared disk format and the bytes it may take."""
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        enforce(ctx, "image:upload_image", owner_target(image))
        if image.status != "queued":
            raise InvalidStatusTransition(current=image.status, new="saving")
        limit = store.MAX_IMAGE_SIZE
        if IMAGE_SIZE_TOTAL >= 0:
            used = await session.scalar(select(func.coalesce(func.sum(Image.size), 0)).where(
                Image.owner == image.owner))
            limit = min(limit, max(IMAGE_SIZE_TOTAL - int(used or 0), 0))
        image.status = "saving"
        image.updated_at = utcnow()
        return image.disk_format, limit


async def _set_status(request: Request, image_id: str, status: str) -> None:
    async with request.app.state.runtime.db.write() as session:
        image = await session.get(Image, image_id)
        if image is not None and image.status == "saving":
            image.status = status


async def _finish(request: Request, image_id: str, written: Written, virtual_size: int | None,
                  images: ImageStore) -> None:
    """Make the data the image's, unless the image went away meanwhile."""
    async with request.app.state.runtime.db.write() as session:
        image = await session.get(Image, image_id)
        if image is None or image.status != "saving":
            written.path.unlink(missing_ok=True)
            raise exception.Conflict("Image was deleted or changed while its data was uploaded.")
        await images.commit(written, image_id)
        image.status = "active"
        image.size = written.size
        image.checksum = written.checksum
        image.os_hash_algo = "sha512"
        image.os_hash_value = written.os_hash_value
        image.virtual_size = virtual_size
        image.updated_at = utcnow()


@router.put("/v2/images/{image_id}/file", status_code=204)
async def upload(image_id: str, request: Request, ctx: RequestContext = Ctx) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in UPLOAD_TYPES:
        raise exception.UnsupportedMediaType(f"Unsupported Content-Type {content_type}")
    disk_format, limit = await _begin(request, ctx, image_id)
    images = image_store(request)
    try:
        written = await images.receive(request.stream(), limit)
    except ClientDisconnect as exc:
        await _set_status(request, image_id, "queued")
        raise exception.Invalid("The client disconnected during the upload.") from exc
    except BaseException:
        await _set_status(request, image_id, "queued")
        raise
    try:
        found = await asyncio.to_thread(inspect_file, written.path)
        check_declared(found, disk_format)
    except UnsafeImage as exc:
        written.path.unlink(missing_ok=True)
        await _set_status(request, image_id, "queued")
        raise InvalidImageData(reason=str(exc)) from exc
    await _finish(request, image_id, written, found.virtual_size, images)
    return Response(status_code=204)


@router.get("/v2/images/{image_id}/file", response_model=None)
async def download(image_id: str, request: Request,
                   ctx: RequestContext = Ctx) -> Response | StreamingResponse:
    async with request.app.state.runtime.db.read() as session:
        image = await records.get_visible(session, ctx, image_id)
    enforce(ctx, "image:download_image", owner_target(image))
    if image.status == "deactivated" and not ctx.is_admin:
        raise ImageDeactivated()
    images = image_store(request)
    if image.status not in ("active", "deactivated") or not images.exists(image_id):
        return Response(status_code=204)
    headers = {"Content-MD5": image.checksum or "", "Content-Length": str(image.size)}
    return StreamingResponse(images.read(image_id), media_type="application/octet-stream",
                             headers=headers)
