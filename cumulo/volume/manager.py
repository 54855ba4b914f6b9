"""The volume service's side of the bus: the files, and the calls compute makes.

The casts (``BuildVolume``, ``DestroyVolume``, ``ExtendVolume``) do the slow
work with ``qemu-img``. Each first looks at the volume's status and does
nothing unless the volume is still waiting for exactly that work, and ends
with a conditional status change, so a message delivered twice, or one that
lost a race with a delete, changes nothing. A failed build leaves the volume
in ``error`` and no file behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from sqlalchemy import delete, select

from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.volume import Volume, VolumeAttachment
from cumulo.image.rpcapi import ImageAPI
from cumulo.manager import Manager
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler
from cumulo.runtime import Runtime
from cumulo.volume import attach, records, service, storage
from cumulo.volume.messages import (
    AttachmentInfo,
    BuildVolume,
    CompleteAttachment,
    CreateAttachment,
    CreateVolume,
    DeleteAttachment,
    DeleteVolume,
    DestroyVolume,
    ExtendVolume,
    GetVolume,
    Nothing,
    UpdateAttachment,
    VolumeInfo,
)
from cumulo.volume.schemas import CreateVolume as CreateRequest
from cumulo.volume.states import Status, transition
from cumulo.volume.views import BACKEND

LOG = logging.getLogger(__name__)


def attachment_info(attachment: VolumeAttachment) -> AttachmentInfo:
    return AttachmentInfo(
        id=attachment.id,
        volume_id=attachment.volume_id,
        instance_uuid=attachment.instance_uuid,
        status=attachment.attach_status,
        attach_mode=attachment.attach_mode,
        connector=attachment.connector,
        connection_info=attachment.connection_info,
    )


def volume_info(volume: Volume) -> VolumeInfo:
    return VolumeInfo(
        id=volume.id,
        project_id=volume.project_id,
        name=volume.name,
        status=volume.status,
        attach_status=volume.attach_status,
        size=volume.size,
        availability_zone=volume.availability_zone,
        volume_type=volume.volume_type.name,
        bootable=volume.bootable,
        multiattach=volume.multiattach,
        disk_format=volume.disk_format,
        image_metadata=volume.image_metadata,
        attachments=[attachment_info(a) for a in volume.attachments],
    )


def local_path(location: str | None) -> Path | None:
    if not location or not location.startswith("file://"):
        return None
    return Path(unquote(urlparse(location).path))


class VolumeManager(Manager):
    topic = "volume"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.volume_dir = runtime.settings.volume_dir.absolute()
        self.host = f"{socket.gethostname()}@{BACKEND}#{BACKEND}"
        self._resuming: asyncio.Task[None] | None = None

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {
            GetVolume: self.get_volume,
            CreateVolume: self.create_volume,
            DeleteVolume: self.delete_volume,
            CreateAttachment: self.attachment_create,
            UpdateAttachment: self.attachment_update,
            CompleteAttachment: self.attachment_complete,
            DeleteAttachment: self.attachment_delete,
            BuildVolume: self.build_volume,
            DestroyVolume: self.destroy_volume,
            ExtendVolume: self.extend_volume,
        }

    async def start(self) -> None:
        """Resume the work a stopped process left unfinished, when no broker kept its messages.

        With the in-memory bus a cast dies with the process, so volumes still
        ``creating``, ``extending`` or ``deleting`` at start are picked up
        again (in the background); with RabbitMQ the unacknowledged cast is
        redelivered instead.
        """
        if not service.bus_of(self.runtime).transport.durable:
            self._resuming = asyncio.create_task(self._resume())

    async def stop(self) -> None:
        if self._resuming is not None and not self._resuming.done():
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resuming

    async def _resume(self) -> None:
        waiting = (Status.CREATING.value, Status.EXTENDING.value, Status.DELETING.value)
        async with self.runtime.db.read() as session:
            found = await session.scalars(select(Volume).where(Volume.status.in_(waiting)))
            volumes = found.all()
        for volume in volumes:
            ctx = RequestContext(
                user_id=volume.user_id, project_id=volume.project_id, roles=("member",)
            )
            LOG.info("Resuming %s of volume %s", volume.status, volume.id)
            if volume.status == Status.CREATING:
                await self.build_volume(ctx, BuildVolume(volume_id=volume.id))
            elif volume.status == Status.DELETING:
                await self.destroy_volume(ctx, DestroyVolume(volume_id=volume.id))
            else:
                size = volume.size
                await self.extend_volume(
                    ctx, ExtendVolume(volume_id=volume.id, new_size=size, old_size=size)
                )

    # --- calls from other services ------------------------------------------------------

    async def get_volume(self, ctx: RequestContext, msg: GetVolume) -> VolumeInfo:
        async with self.runtime.db.read() as session:
            return volume_info(await records.get_volume(session, ctx, msg.volume_id))

    async def create_volume(self, ctx: RequestContext, msg: CreateVolume) -> VolumeInfo:
        req = CreateRequest(
            size=msg.size,
            name=msg.name,
            description=msg.description,
            image_ref=msg.image_id,
            volume_type=msg.volume_type,
            availability_zone=msg.availability_zone,
            metadata=msg.metadata,
        )
        return volume_info(await service.create_volume(self.runtime, ctx, req))

    async def delete_volume(self, ctx: RequestContext, msg: DeleteVolume) -> Nothing:
        await service.delete_volume(self.runtime, ctx, msg.volume_id)
        return Nothing()

    async def attachment_create(self, ctx: RequestContext, msg: CreateAttachment) -> AttachmentInfo:
        row = await attach.create(
            self.runtime, ctx, msg.volume_id, msg.instance_uuid, msg.connector, msg.mode
        )
        return attachment_info(row)

    async def attachment_update(self, ctx: RequestContext, msg: UpdateAttachment) -> AttachmentInfo:
        row = await attach.update(self.runtime, ctx, msg.attachment_id, msg.connector)
        return attachment_info(row)

    async def attachment_complete(self, ctx: RequestContext, msg: CompleteAttachment) -> Nothing:
        await attach.complete(self.runtime, ctx, msg.attachment_id)
        return Nothing()

    async def attachment_delete(self, ctx: RequestContext, msg: DeleteAttachment) -> Nothing:
        await attach.delete_attachment(self.runtime, ctx, msg.attachment_id)
        return Nothing()

    # --- the work itself (casts) --------------------------------------------------------

    async def _load(self, volume_id: str) -> Volume | None:
        async with self.runtime.db.read() as session:
            return await session.scalar(select(Volume).where(Volume.id == volume_id))

    async def build_volume(self, ctx: RequestContext, msg: BuildVolume) -> None:
        volume = await self._load(msg.volume_id)
        if volume is None or volume.status != Status.CREATING:
            return
        path = storage.volume_path(self.volume_dir, volume.id)
        try:
            await self._make_file(ctx, volume, path)
        except Exception as exc:
            LOG.error("Volume %s could not be created: %s", volume.id, exc)
            await storage.delete(path)
            async with self.runtime.db.write() as session:
                await transition(session, volume.id, "create_failed")
            return
        async with self.runtime.db.write() as session:
            done = await transition(
                session, volume.id, "created", path=str(path), host=self.host, launched_at=utcnow()
            )
        if not done:
            await storage.delete(path)

    async def _make_file(self, ctx: RequestContext, volume: Volume, path: Path) -> None:
        image_id = (volume.image_metadata or {}).get("image_id")
        if image_id is None:
            await storage.create_blank(path, volume.disk_format, volume.size)
            return
        image = await ImageAPI(service.bus_of(self.runtime)).get(ctx, image_id)
        source = local_path(image.location)
        if image.status != "active" or source is None:
            raise storage.StorageError(reason=f"image {image_id} has no data on this machine")
        source_format = service.QEMU_FORMATS[image.disk_format or "raw"]
        await storage.create_from_image(
            path, volume.disk_format, volume.size, source, source_format
        )

    async def destroy_volume(self, ctx: RequestContext, msg: DestroyVolume) -> None:
        volume = await self._load(msg.volume_id)
        if volume is None or volume.status != Status.DELETING:
            return
        await storage.delete(storage.volume_path(self.volume_dir, volume.id))
        if volume.path:
            await storage.delete(Path(volume.path))
        async with self.runtime.db.write() as session:
            await session.execute(
                delete(Volume)
                .where(Volume.id == volume.id, Volume.status == Status.DELETING.value)
                .execution_options(synchronize_session=False)
            )

    async def extend_volume(self, ctx: RequestContext, msg: ExtendVolume) -> None:
        volume = await self._load(msg.volume_id)
        if volume is None or volume.status != Status.EXTENDING:
            return
        try:
            if volume.path is None:
                raise storage.StorageError(reason="the volume has no file")
            await storage.resize(Path(volume.path), volume.disk_format, msg.new_size)
        except Exception as exc:
            LOG.error("Volume %s could not be extended: %s", volume.id, exc)
            async with self.runtime.db.write() as session:
                await transition(session, volume.id, "extend_failed", size=msg.old_size)
            return
        async with self.runtime.db.write() as session:
            await transition(session, volume.id, "extended")
