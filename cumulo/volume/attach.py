"""Attachments (Cinder's 3.27+ attach flow, as Nova drives it).

::

    create (no connector)  volume available → reserved    attachment reserved
    create / update with a connector  → attaching         attachment attaching, connection_info
    complete                          → in-use            attachment attached
    delete                            → detaching → available (or in-use while others remain)

Every step is a status transition of the volume (``cumulo.volume.states``)
in the same transaction as the attachment row it concerns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from cumulo.api import policy
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.volume import Volume, VolumeAttachment
from cumulo.runtime import Runtime
from cumulo.volume import errors, records
from cumulo.volume.states import AttachStatus, Status, transition


def connection_info(volume: Volume, attachment_id: str, mode: str) -> dict[str, Any]:
    """How a host on this machine connects to the volume: it is a local file.

    ``driver_volume_type`` is ``"file"`` and ``data`` holds the absolute path
    of the volume's file (``device_path``) and its format (``format``: qcow2
    or raw), which a hypervisor opens directly, as a libvirt ``<disk
    type='file'>``. There is no target to log in to and nothing to tear down.
    """
    return {
        "driver_volume_type": "file",
        "data": {
            "device_path": volume.path,
            "format": volume.disk_format,
            "volume_id": volume.id,
            "name": f"volume-{volume.id}",
            "access_mode": mode,
            "encrypted": False,
            "qos_specs": None,
            "discard": True,
        },
        "attachment_id": attachment_id,
        "serial": volume.id,
    }


def _reserve_refused(volume: Volume) -> errors.InvalidVolume:
    return errors.InvalidVolume(
        reason=f"Volume {volume.id} status must be available or downloading"
    )


async def create(
    runtime: Runtime,
    ctx: RequestContext,
    volume_id: str,
    instance_uuid: str,
    connector: dict[str, Any] | None = None,
    mode: str = "rw",
) -> VolumeAttachment:
    async with runtime.db.write() as session:
        volume = await records.get_volume(session, ctx, volume_id)
        policy.enforce(ctx, "volume:attachment_create", {"project_id": volume.project_id})
        if not await transition(session, volume_id, "reserve", attach_status="reserved"):
            raise _reserve_refused(volume)
        attachment = VolumeAttachment(
            volume_id=volume_id,
            instance_uuid=instance_uuid,
            attach_status=AttachStatus.RESERVED.value,
            attach_mode=mode,
        )
        session.add(attachment)
        await session.flush()
        if connector:
            await _connect(session, volume, attachment, connector)
        return attachment


async def _connect(
    session: Any, volume: Volume, attachment: VolumeAttachment, connector: dict[str, Any]
) -> None:
    if not await transition(session, volume.id, "attach", attach_status="attaching"):
        if volume.status != Status.ATTACHING:
            raise errors.InvalidVolume(
                reason=f"Volume {volume.id} status must be reserved or attaching to update "
                f"an attachment, but current status is: {volume.status}."
            )
    attachment.attach_status = AttachStatus.ATTACHING.value
    attachment.connector = dict(connector)
    attachment.connection_info = connection_info(volume, attachment.id, attachment.attach_mode)
    attachment.attached_host = connector.get("host")
    attachment.mountpoint = connector.get("mountpoint")
    await session.flush()


async def update(
    runtime: Runtime, ctx: RequestContext, attachment_id: str, connector: dict[str, Any]
) -> VolumeAttachment:
    async with runtime.db.write() as session:
        attachment, volume = await records.get_attachment(session, ctx, attachment_id)
        policy.enforce(ctx, "volume:attachment_update", {"project_id": volume.project_id})
        if attachment.attach_status not in (AttachStatus.RESERVED, AttachStatus.ATTACHING):
            raise errors.InvalidVolume(
                reason=f"Attachment {attachment_id} is {attachment.attach_status} and "
                "cannot be updated."
            )
        await _connect(session, volume, attachment, connector)
        return attachment


async def complete(runtime: Runtime, ctx: RequestContext, attachment_id: str) -> None:
    """Mark the attachment attached and the volume ``in-use``; again is a no-op."""
    async with runtime.db.write() as session:
        attachment, volume = await records.get_attachment(session, ctx, attachment_id)
        policy.enforce(ctx, "volume:attachment_complete", {"project_id": volume.project_id})
        if attachment.attach_status == AttachStatus.ATTACHED:
            return
        if attachment.attach_status != AttachStatus.ATTACHING:
            raise errors.InvalidVolume(
                reason=f"Attachment {attachment_id} has no connector yet; update it with "
                "one before completing it."
            )
        if not await transition(session, volume.id, "attached", attach_status="attached"):
            raise errors.InvalidVolume(
                reason=f"Volume {volume.id} status must be attaching to complete an "
                f"attachment, but current status is: {volume.status}."
            )
        attachment.attach_status = AttachStatus.ATTACHED.value
        attachment.attach_time = utcnow()


async def delete_attachment(
    runtime: Runtime, ctx: RequestContext, attachment_id: str
) -> list[VolumeAttachment]:
    """Remove the attachment; the volume is ``available`` again once none remain.

    Returns the volume's remaining attachments, as Cinder's delete answers.
    """
    async with runtime.db.write() as session:
        _, volume = await records.get_attachment(session, ctx, attachment_id)
        policy.enforce(ctx, "volume:attachment_delete", {"project_id": volume.project_id})
        detaching = await transition(session, volume.id, "detach")
        await session.execute(
            delete(VolumeAttachment)
            .where(VolumeAttachment.id == attachment_id)
            .execution_options(synchronize_session=False)
        )
        remaining = list(
            await session.scalars(
                select(VolumeAttachment).where(VolumeAttachment.volume_id == volume.id)
            )
        )
        if detaching and remaining:
            await transition(session, volume.id, "still_attached")
        elif detaching:
            await transition(session, volume.id, "detached", attach_status="detached")
        return remaining
