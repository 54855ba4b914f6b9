"""Compute's boot-from-volume calls over the in-memory bus (VolumeAPI)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cumulo.rpc import Bus
from cumulo.volume import errors
from cumulo.volume.rpcapi import VolumeAPI
from tests.fakes import ADMIN, DEMO
from tests.unit.volume.conftest import upload_image

CONNECTOR = {"host": "compute-1", "mountpoint": "/dev/vda"}


async def _until(api: VolumeAPI, volume_id: str, status: str) -> None:
    for _ in range(300):
        if (await api.get(DEMO, volume_id)).status == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"volume never became {status}")


async def test_boot_from_volume_sequence(api: httpx.AsyncClient, bus: Bus) -> None:
    image_id = await upload_image(api, b"\0" * 4096)
    volumes = VolumeAPI(bus)
    created = await volumes.create(DEMO, 1, image_id=image_id, name="root")
    assert (created.status, created.size, created.bootable) == ("creating", 1, True)
    await _until(volumes, created.id, "available")
    attachment = await volumes.attachment_create(DEMO, created.id, "srv-1")
    assert attachment.status == "reserved" and attachment.connection_info is None
    connected = await volumes.attachment_update(DEMO, attachment.id, CONNECTOR)
    assert connected.connection_info is not None
    assert connected.connection_info["driver_volume_type"] == "file"
    await volumes.attachment_complete(DEMO, attachment.id)
    in_use = await volumes.get(DEMO, created.id)
    assert in_use.status == "in-use" and in_use.attachments[0].status == "attached"
    with pytest.raises(errors.InvalidVolume):
        await volumes.delete(DEMO, created.id)
    await volumes.attachment_delete(DEMO, attachment.id)
    assert (await volumes.get(DEMO, created.id)).status == "available"
    await volumes.delete(DEMO, created.id)
    for _ in range(300):
        try:
            await volumes.get(DEMO, created.id)
        except errors.VolumeNotFound:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("volume was not deleted")


async def test_errors_travel_back(api: httpx.AsyncClient, bus: Bus) -> None:
    volumes = VolumeAPI(bus)
    blank = await volumes.create(ADMIN, 1)
    with pytest.raises(errors.VolumeNotFound):
        await volumes.get(DEMO, blank.id)
    with pytest.raises(errors.InvalidImageRef):
        await volumes.create(DEMO, 1, image_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(errors.VolumeAttachmentNotFound):
        await volumes.attachment_complete(DEMO, "nope")
