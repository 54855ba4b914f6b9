"""Volume operations, shared by the HTTP API and the bus (Nova's boot-from-volume).

Each operation checks what it can before writing (bad input, image, type,
quota), writes the row in one transaction, and then casts the slow part
(``qemu-img``) to the volume manager. Nothing is written when a check fails.
"""

from __future__ import annotations

import math
from typing import Any

from cumulo.api import policy
from cumulo.context import RequestContext
from cumulo.db.models.volume import Volume
from cumulo.image.errors import ImageNotFound
from cumulo.image.messages import ImageMeta
from cumulo.image.rpcapi import ImageAPI
from cumulo.rpc import Bus
from cumulo.runtime import Runtime
from cumulo.volume import errors, quota, records
from cumulo.volume.messages import BuildVolume, DestroyVolume, ExtendVolume
from cumulo.volume.schemas import CreateVolume
from cumulo.volume.states import DELETABLE, AttachStatus, Status, transition

TOPIC = "volume"
GiB = 1 << 30

DELETE_REFUSED = (
    "Volume status must be available or error or error_restoring or error_extending or "
    "error_managing and must not be migrating, attached, belong to a group, have "
    "snapshots, awaiting a transfer, or be disassociated from snapshots after volume "
    "transfer."
)

# qemu-img's name for each Glance disk format a volume can be made from.
QEMU_FORMATS = {
    "raw": "raw",
    "qcow2": "qcow2",
    "vmdk": "vmdk",
    "vdi": "vdi",
    "vhd": "vpc",
    "vhdx": "vhdx",
    "iso": "raw",
}


def bus_of(runtime: Runtime) -> Bus:
    if runtime.bus is None:
        raise RuntimeError("the volume service needs the runtime's bus")
    return runtime.bus


def _gb(size_bytes: int | None) -> int:
    return math.ceil((size_bytes or 0) / GiB)


async def fetch_image(runtime: Runtime, ctx: RequestContext, image_ref: str) -> ImageMeta:
    """The image ``imageRef`` names (an id, or a URL ending in one) as the caller sees it."""
    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1]
    try:
        return await ImageAPI(bus_of(runtime)).get(ctx, image_id)
    except ImageNotFound:
        raise errors.InvalidImageRef() from None


def check_image(image: ImageMeta, size: int) -> None:
    """Cinder's checks of an image against the volume to be made from it, in its order."""
    if image.status != "active":
        raise errors.InvalidInput(reason=f"Image {image.id} is not active.")
    if image.disk_format not in QEMU_FORMATS or image.container_format not in (None, "bare"):
        raise errors.ImageUnacceptable(
            image_id=image.id,
            reason=f"Unsupported image format {image.disk_format}/{image.container_format}.",
        )
    if _gb(image.size) > size:
        raise errors.InvalidInput(
            reason=f"Size of specified image {_gb(image.size)}GB is larger than volume "
            f"size {size}GB."
        )
    if size < image.min_disk:
        raise errors.InvalidInput(
            reason=f"Volume size {size}GB cannot be smaller than the image minDisk size "
            f"{image.min_disk}GB."
        )
    if image.virtual_size and _gb(image.virtual_size) > size:
        raise errors.ImageUnacceptable(
            image_id=image.id,
            reason=f"Image virtual size is {_gb(image.virtual_size)}GB and doesn't fit in a "
            f"volume of size {size}GB.",
        )


def image_metadata(image: ImageMeta) -> dict[str, Any]:
    """What Cinder keeps of the source image (``volume_image_metadata``)."""
    meta: dict[str, Any] = {
        "image_id": image.id,
        "image_name": image.name or "",
        "checksum": image.checksum or "",
        "container_format": image.container_format or "",
        "disk_format": image.disk_format or "",
        "min_disk": str(image.min_disk),
        "min_ram": str(image.min_ram),
        "size": str(image.size or 0),
    }
    meta.update({k: str(v) for k, v in image.properties.items()})
    return meta


async def create_volume(runtime: Runtime, ctx: RequestContext, req: CreateVolume) -> Volume:
    """Check, write the ``creating`` row (quota-checked), and cast the build to the manager."""
    policy.enforce(ctx, "volume:create", {"project_id": ctx.project_id})
    if req.size is None:
        raise errors.InvalidInput(reason="Volume size 'None' must be an integer and greater than 0")
    zone = runtime.settings.compute.default_availability_zone
    if req.availability_zone not in (None, zone):
        raise errors.InvalidAvailabilityZone(az=req.availability_zone)
    image = None
    if req.image_ref:
        image = await fetch_image(runtime, ctx, req.image_ref)
        check_image(image, req.size)
    project_id = str(ctx.project_id)
    await quota.ensure_lock_row(runtime.db, project_id)
    async with runtime.db.write() as session:
        if req.volume_type:
            vtype = await records.find_type(session, req.volume_type)
        else:
            vtype = await records.default_type(session)
        await quota.claim(
            session,
            runtime.settings.volume,
            quota.Claim(project_id, vtype.name, 1, req.size, req.size),
        )
        volume = Volume(
            project_id=project_id,
            user_id=str(ctx.user_id),
            name=req.name,
            description=req.description,
            size=req.size,
            status=Status.CREATING.value,
            attach_status=AttachStatus.DETACHED.value,
            availability_zone=zone,
            volume_type_id=vtype.id,
            bootable=image is not None,
            metadata_=req.metadata,
            image_metadata=image_metadata(image) if image else None,
            disk_format=runtime.settings.volume.default_format,
        )
        session.add(volume)
        await session.flush()
        volume_id = volume.id
    await bus_of(runtime).cast(TOPIC, BuildVolume(volume_id=volume_id), ctx)
    return await reload(runtime, ctx, volume_id)


async def reload(runtime: Runtime, ctx: RequestContext, volume_id: str) -> Volume:
    async with runtime.db.read() as session:
        return await records.get_volume(session, ctx, volume_id)


async def delete_volume(runtime: Runtime, ctx: RequestContext, volume_id: str) -> None:
    """Mark the volume ``deleting`` and cast the removal; refused while attached or busy."""
    async with runtime.db.write() as session:
        volume = await records.get_volume(session, ctx, volume_id)
        policy.enforce(ctx, "volume:delete", {"project_id": volume.project_id})
        attached = volume.attach_status != AttachStatus.DETACHED or volume.attachments
        if attached or volume.status not in DELETABLE:
            raise errors.InvalidVolume(reason=DELETE_REFUSED)
        if not await transition(session, volume_id, "delete"):
            raise errors.InvalidVolume(reason=DELETE_REFUSED)
    await bus_of(runtime).cast(TOPIC, DestroyVolume(volume_id=volume_id), ctx)


async def extend_volume(
    runtime: Runtime, ctx: RequestContext, volume_id: str, new_size: int
) -> None:
    """Grow an ``available`` volume: check size and quota, mark ``extending``, cast the resize.

    The new size is recorded at once, so the quota it claims holds while the
    file grows; a failed resize puts the old size back (``error_extending``).
    """
    volume = await reload(runtime, ctx, volume_id)
    await quota.ensure_lock_row(runtime.db, volume.project_id)
    async with runtime.db.write() as session:
        volume = await records.get_volume(session, ctx, volume_id)
        policy.enforce(ctx, "volume:extend", {"project_id": volume.project_id})
        if new_size <= volume.size:
            raise errors.InvalidInput(
                reason="New size for extend must be greater than current size. "
                f"(current: {volume.size}, extended: {new_size})."
            )
        if volume.status != Status.AVAILABLE:
            raise errors.InvalidVolume(
                reason=f"Volume {volume_id} status must be available to extend, but current "
                f"status is: {volume.status}."
            )
        old_size = volume.size
        claim = quota.Claim(
            volume.project_id, volume.volume_type.name, 0, new_size - old_size, new_size
        )
        await quota.claim(session, runtime.settings.volume, claim)
        if not await transition(session, volume_id, "extend", size=new_size):
            raise errors.InvalidVolume(
                reason=f"Volume {volume_id} status must be available to extend."
            )
    msg = ExtendVolume(volume_id=volume_id, new_size=new_size, old_size=old_size)
    await bus_of(runtime).cast(TOPIC, msg, ctx)
