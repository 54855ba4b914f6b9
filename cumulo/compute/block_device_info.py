"""An instance's volumes as the virt driver takes them (``BlockDeviceInfo``).

``prep_block_device`` makes them at build time (Nova's ``_prep_block_device``):
it creates the volumes the mappings ask for, attaches every volume to the
host and records each attachment on its mapping. Later work on the guest
(power on, reboot) reads them back with ``get_instance_block_device_info``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.instances import BlockDeviceMapping, Instance
from cumulo.exception import CumuloError
from cumulo.virt.driver import BlockDeviceInfo
from cumulo.volume.rpcapi import VolumeAPI

VOLUME_POLL_SECONDS = 0.05
VOLUME_WAIT_SECONDS = 180.0


async def prep_block_device(
    db: Database, volume_api: VolumeAPI, ctx: RequestContext, instance: Instance, host: str
) -> BlockDeviceInfo:
    """Create the volumes the mappings ask for, attach every volume to ``host``."""
    async with db.read() as session:
        bdms = await _volume_bdms(session, instance.uuid)
    info = BlockDeviceInfo()
    connector = {"host": host, "initiator": None, "platform": "x86_64", "os_type": "linux"}
    # A server booted from an image has that disk as vda; its volumes follow.
    first = 0 if bdms and bdms[0].boot_index == 0 else 1
    for bdm in bdms:
        volume_id = bdm.volume_id
        if volume_id is None:
            volume = await volume_api.create(
                ctx,
                bdm.volume_size or 1,
                image_id=bdm.image_id if bdm.source_type == "image" else None,
                volume_type=bdm.volume_type,
                availability_zone=instance.availability_zone,
            )
            volume_id = volume.id
            await _record_bdm(db, bdm.id, volume_id=volume_id)
            await _await_volume_available(volume_api, ctx, volume_id)
        attachment = await volume_api.attachment_create(ctx, volume_id, instance.uuid, connector)
        await volume_api.attachment_complete(ctx, attachment.id)
        device = bdm.device_name or _device_name(first + len(info.block_device_mapping))
        await _record_bdm(
            db,
            bdm.id,
            attachment_id=attachment.id,
            connection_info=attachment.connection_info,
            device_name=device,
        )
        _add(info, bdm, attachment.connection_info, device)
    return info


async def get_instance_block_device_info(db: Database, instance_uuid: str) -> BlockDeviceInfo:
    """The attached volumes as the build gave them to ``spawn``."""
    async with db.read() as session:
        bdms = await _volume_bdms(session, instance_uuid)
    info = BlockDeviceInfo()
    for bdm in bdms:
        if bdm.connection_info and bdm.device_name:
            _add(info, bdm, bdm.connection_info, bdm.device_name)
    return info


async def _volume_bdms(session: AsyncSession, instance_uuid: str) -> list[Any]:
    """The instance's volume mappings, its boot volume first: rows with the mapping's
    columns, read only."""
    rows = await run(session, _VOLUME_BDMS, {"instance_uuid": instance_uuid})
    return sorted(rows, key=lambda bdm: bdm.boot_index != 0)


_VOLUME_BDMS = Prepared(
    select(*BlockDeviceMapping.__table__.columns)
    .where(
        BlockDeviceMapping.instance_uuid == bindparam("instance_uuid"),
        BlockDeviceMapping.deleted == 0,
        BlockDeviceMapping.destination_type == "volume",
    )
    .order_by(BlockDeviceMapping.id)
)
"""``_volume_bdms``'s query, built once (building it costs more than running it)."""


def _add(
    info: BlockDeviceInfo,
    bdm: Any,
    connection_info: dict[str, Any] | None,
    device: str,
) -> None:
    info.block_device_mapping.append(
        {
            "connection_info": connection_info,
            "mount_device": device,
            "boot_index": bdm.boot_index,
            "delete_on_termination": bdm.delete_on_termination,
        }
    )
    if bdm.boot_index == 0:
        info.root_device_name = device


async def _record_bdm(db: Database, bdm_id: int, **values: object) -> None:
    async with db.write() as session:
        bdm = await session.get(BlockDeviceMapping, bdm_id)
        if bdm is not None:
            for key, value in values.items():
                setattr(bdm, key, value)


async def _await_volume_available(
    volume_api: VolumeAPI, ctx: RequestContext, volume_id: str
) -> None:
    async with asyncio.timeout(VOLUME_WAIT_SECONDS):
        while True:
            volume = await volume_api.get(ctx, volume_id)
            if volume.status == "available":
                return
            if volume.status not in ("creating", "downloading"):
                raise CumuloError(f"volume {volume_id} is {volume.status}")
            await asyncio.sleep(VOLUME_POLL_SECONDS)


def _device_name(index: int) -> str:
    return "/dev/vd" + chr(ord("a") + index)
