"""Work cut off by a stop is finished when the volume manager starts again (in-memory bus)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import update

from cumulo.db.models.volume import Volume
from cumulo.rpc import Bus
from cumulo.runtime import Runtime
from cumulo.volume.manager import VolumeManager
from tests.unit.volume.conftest import available_volume, wait_for


async def _set_status(runtime: Runtime, volume_id: str, status: str) -> None:
    async with runtime.db.write() as session:
        await session.execute(update(Volume).where(Volume.id == volume_id).values(status=status))


async def _path(runtime: Runtime, volume_id: str) -> Path:
    async with runtime.db.read() as session:
        volume = await session.get(Volume, volume_id)
    assert volume is not None and volume.path is not None
    return Path(volume.path)


async def test_creating_and_deleting_volumes_are_resumed(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    built = await available_volume(api)
    path = await _path(runtime, built["id"])
    await asyncio.to_thread(path.unlink)
    await _set_status(runtime, built["id"], "creating")
    doomed = await available_volume(api)
    doomed_path = await _path(runtime, doomed["id"])
    await _set_status(runtime, doomed["id"], "deleting")

    restarted = VolumeManager(runtime)
    await restarted.start()
    try:
        await wait_for(api, built["id"], "available")
        await wait_for(api, doomed["id"], "gone")
    finally:
        await restarted.stop()
    assert await asyncio.to_thread(path.exists)
    assert not await asyncio.to_thread(doomed_path.exists)
