"""The typed client other services (compute's boot from volume) use to reach the volume service.

Every method acts with the caller's context: a project reaches only its own
volumes (``VolumeNotFound`` otherwise) and the quota and policy checks are
the HTTP API's.
"""

from __future__ import annotations

from typing import Any

from cumulo.context import RequestContext
from cumulo.rpc import Bus
from cumulo.volume.messages import (
    AttachmentInfo,
    CompleteAttachment,
    CreateAttachment,
    CreateVolume,
    DeleteAttachment,
    DeleteVolume,
    GetVolume,
    Nothing,
    UpdateAttachment,
    VolumeInfo,
)

TOPIC = "volume"


class VolumeAPI:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def get(self, ctx: RequestContext, volume_id: str) -> VolumeInfo:
        msg = GetVolume(volume_id=volume_id)
        return await self.bus.call(TOPIC, msg, ctx, returns=VolumeInfo)

    async def create(
        self,
        ctx: RequestContext,
        size: int,
        *,
        image_id: str | None = None,
        name: str | None = None,
        volume_type: str | None = None,
        availability_zone: str | None = None,
    ) -> VolumeInfo:
        """A new ``creating`` volume, blank or from ``image_id``; poll ``get`` until available."""
        msg = CreateVolume(
            size=size,
            image_id=image_id,
            name=name,
            volume_type=volume_type,
            availability_zone=availability_zone,
        )
        return await self.bus.call(TOPIC, msg, ctx, returns=VolumeInfo)

    async def delete(self, ctx: RequestContext, volume_id: str) -> None:
        await self.bus.call(TOPIC, DeleteVolume(volume_id=volume_id), ctx, returns=Nothing)

    async def attachment_create(
        self,
        ctx: RequestContext,
        volume_id: str,
        instance_uuid: str,
        connector: dict[str, Any] | None = None,
        mode: str = "rw",
    ) -> AttachmentInfo:
        """Reserve the volume for the instance (and connect it, given a connector)."""
        msg = CreateAttachment(
            volume_id=volume_id, instance_uuid=instance_uuid, connector=connector, mode=mode
        )
        return await self.bus.call(TOPIC, msg, ctx, returns=AttachmentInfo)

    async def attachment_update(
        self, ctx: RequestContext, attachment_id: str, connector: dict[str, Any]
    ) -> AttachmentInfo:
        """Give the host's connector; the answer carries ``connection_info``."""
        msg = UpdateAttachment(attachment_id=attachment_id, connector=connector)
        return await self.bus.call(TOPIC, msg, ctx, returns=AttachmentInfo)

    async def attachment_complete(self, ctx: RequestContext, attachment_id: str) -> None:
        msg = CompleteAttachment(attachment_id=attachment_id)
        await self.bus.call(TOPIC, msg, ctx, returns=Nothing)

    async def attachment_delete(self, ctx: RequestContext, attachment_id: str) -> None:
        msg = DeleteAttachment(attachment_id=attachment_id)
        await self.bus.call(TOPIC, msg, ctx, returns=Nothing)
