"""Glance v2 image data: upload (``PUT …/file``) and download (``GET …/file``).

An upload moves the image ``queued → saving → active``. What a failure does
follows Glance's ``image_data.upload``: a failed signature verification
kills the image (``killed``, only deletable afterwards); every other failure
(client gone, over ``image_size_cap``, over the project's storage quota, data
that is not the declared ``disk_format`` or is unsafe, an internal error)
puts it back to ``queued`` with no data kept, temporary file included; an
image deleted meanwhile answers 410.

The storage quota (``quota_image_size_total`` MiB per project, counting
the data of its active, deactivated and saving images) is checked when the
upload starts (with ``Content-Length``), bounds the stream, and is checked
again when the data is in, in the transaction that activates the image,
with the project's image rows locked: of two uploads that together
overflow the quota, the one that activates second sees the first one's size
and is refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import ClientDisconnect

from cumulo import exception
from cumulo.api.policy import enforce
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.image import Image
from cumulo.image import records
from cumulo.image.errors import (
    ImageDeactivated,
    ImageGone,
    ImageSizeLimitExceeded,
    InvalidImageData,
    InvalidStatusTransition,
    SignatureVerificationFailed,
    StorageQuotaFull,
    UploadInterrupted,
)
from cumulo.image.format_inspector import UnsafeImage, check_declared, inspect_file
from cumulo.image.images import Ctx, owner_target
from cumulo.image.images import store as image_store
from cumulo.image.store import ImageStore, TooLarge, Written

router = APIRouter()
UPLOAD_TYPES = {"", "application/octet-stream"}
HOLDING_DATA = ("active", "deactivated", "saving")
SIGNATURE_PROPERTIES = (
    "img_signature",
    "img_signature_hash_method",
    "img_signature_key_type",
    "img_signature_certificate_uuid",
)


@dataclass(frozen=True)
class Plan:
    """What one upload may do, fixed when it starts."""

    image_id: str
    owner: str | None
    disk_format: str | None
    cap: int
    quota: int | None
    remaining: int | None
    killed_by: str | None = None

    @property
    def limit(self) -> int:
        return self.cap if self.remaining is None else min(self.cap, self.remaining)

    def refusal(self, size: int | None) -> exception.CumuloError:
        if size is not None and size > self.cap:
            return ImageSizeLimitExceeded()
        return StorageQuotaFull(image_size=size, remaining=self.remaining)


def _quota_bytes(request: Request) -> int | None:
    mib = request.app.state.runtime.settings.image.quota_image_size_total
    return None if mib < 0 else mib << 20


async def _usage(session: AsyncSession, owner: str | None, other_than: str) -> int:
    """Bytes the project's images hold, this one aside."""
    used = await session.scalar(
        select(func.coalesce(func.sum(Image.size), 0)).where(
            Image.owner == owner, Image.status.in_(HOLDING_DATA), Image.id != other_than
        )
    )
    return int(used or 0)


async def _locked_usage(session: AsyncSession, owner: str | None, other_than: str) -> int:
    """As ``_usage``, holding the rows until the transaction ends.

    A concurrent activation of the same project waits for this one and then
    reads the size it recorded (PostgreSQL and MariaDB re-read locked rows;
    SQLite runs write transactions one at a time).
    """
    rows = await session.execute(
        select(Image.id, Image.size)
        .where(Image.owner == owner, Image.status.in_(HOLDING_DATA))
        .with_for_update()
    )
    return sum(size or 0 for image_id, size in rows.all() if image_id != other_than)


def _unverifiable(image: Image) -> str | None:
    """Why the image's signature cannot be verified, when it carries one (no key manager here)."""
    props = image.properties or {}
    if all(props.get(key) for key in SIGNATURE_PROPERTIES):
        return (
            "Signature verification for the image failed: Unable to retrieve certificate "
            f"with ID {props['img_signature_certificate_uuid']}"
        )
    return None


async def _begin(
    request: Request, ctx: RequestContext, image_id: str, declared: int | None
) -> Plan:
    """Move the image to ``saving`` (or ``killed``) and fix the upload's limits."""
    settings = request.app.state.runtime.settings.image
    quota = _quota_bytes(request)
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        enforce(ctx, "image:upload_image", owner_target(image))
        if image.status != "queued":
            raise InvalidStatusTransition(current=image.status, new="saving")
        remaining = None if quota is None else quota - await _usage(session, image.owner, image_id)
        plan = Plan(
            image_id,
            image.owner,
            image.disk_format,
            settings.image_size_cap,
            quota,
            remaining,
            _unverifiable(image),
        )
        if declared is not None and declared > plan.limit:
            raise plan.refusal(declared)
        image.status = "killed" if plan.killed_by else "saving"
        image.updated_at = utcnow()
    return plan


async def _restore(request: Request, image_id: str) -> None:
    """Back to ``queued`` with no data, unless the image went on or away meanwhile."""
    async with request.app.state.runtime.db.write() as session:
        image = await session.get(Image, image_id)
        if image is not None and image.status == "saving":
            image.status = "queued"
            image.size = None
            image.updated_at = utcnow()
            await image_store(request).delete(image_id)


async def _receive(request: Request, images: ImageStore, plan: Plan) -> Written:
    try:
        return await images.receive(request.stream(), plan.limit)
    except TooLarge as exc:
        raise plan.refusal(exc.size) from exc
    except ClientDisconnect as exc:
        raise UploadInterrupted() from exc


async def _inspect(images: ImageStore, written: Written, plan: Plan) -> int | None:
    """The virtual size; ``InvalidImageData`` (data removed) if unsafe or mislabelled."""
    try:
        found = await asyncio.to_thread(inspect_file, written.path)
        check_declared(found, plan.disk_format)
    except UnsafeImage as exc:
        await images.discard(written)
        raise InvalidImageData(reason=str(exc)) from exc
    return found.virtual_size


async def _activate(
    request: Request, written: Written, virtual_size: int | None, plan: Plan
) -> None:
    """Recheck the quota against the project's other images, then make the data the image's."""
    images = image_store(request)
    async with request.app.state.runtime.db.write() as session:
        image = await session.get(Image, plan.image_id)
        if image is None or image.status != "saving":
            await images.discard(written)
            raise ImageGone(image_id=plan.image_id)
        if plan.quota is not None:
            used = await _locked_usage(session, image.owner, image.id)
            if used + written.size > plan.quota:
                await images.discard(written)
                raise StorageQuotaFull(image_size=written.size, remaining=plan.quota - used)
        await images.commit(written, image.id)
        image.status = "active"
        image.size = written.size
        image.checksum = written.checksum
        image.os_hash_algo = "sha512"
        image.os_hash_value = written.os_hash_value
        image.virtual_size = virtual_size
        image.updated_at = utcnow()


def _declared_size(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


@router.put("/v2/images/{image_id}/file", status_code=204)
async def upload(image_id: str, request: Request, ctx: RequestContext = Ctx) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in UPLOAD_TYPES:
        raise exception.UnsupportedMediaType(f"Unsupported Content-Type {content_type}")
    plan = await _begin(request, ctx, image_id, _declared_size(request))
    if plan.killed_by:
        raise SignatureVerificationFailed(image_id=image_id, reason=plan.killed_by)
    images = image_store(request)
    try:
        written = await _receive(request, images, plan)
        virtual_size = await _inspect(images, written, plan)
        await _activate(request, written, virtual_size, plan)
    except ImageGone:
        raise
    except BaseException:
        await asyncio.shield(_restore(request, image_id))
        raise
    return Response(status_code=204)


@router.get("/v2/images/{image_id}/file", response_model=None)
async def download(
    image_id: str, request: Request, ctx: RequestContext = Ctx
) -> Response | StreamingResponse:
    async with request.app.state.runtime.db.read() as session:
        image = await records.get_visible(session, ctx, image_id)
    enforce(ctx, "image:download_image", owner_target(image))
    if image.status == "deactivated" and not ctx.is_admin:
        raise ImageDeactivated()
    images = image_store(request)
    if image.status not in ("active", "deactivated") or not images.exists(image_id):
        return Response(status_code=204)
    headers = {"Content-MD5": image.checksum or "", "Content-Length": str(image.size)}
    return StreamingResponse(
        images.read(image_id), media_type="application/octet-stream", headers=headers
    )
