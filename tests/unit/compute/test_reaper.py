"""Guests of servers deleted behind their host's back: reaped (or reported) by the host."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from cumulo.db.models.instances import Instance
from cumulo.virt.fake import FakeDriver
from tests.boot_cloud import BootCloud, boot_cloud


async def _orphan_and_survivor(cloud: BootCloud) -> tuple[str, str]:
    orphan, survivor = await cloud.create("orphan"), await cloud.create("survivor")
    await cloud.wait(orphan, "active")
    await cloud.wait(survivor, "active")
    async with cloud.runtime.db.write() as session:
        # The row was deleted, the delete never reached the host.
        await session.execute(
            update(Instance).where(Instance.uuid == orphan).values(deleted=Instance.id)
        )
    return orphan, survivor


def _guests(cloud: BootCloud) -> set[str]:
    found: set[str] = set()
    for manager in cloud.computes():
        assert isinstance(manager.driver, FakeDriver)
        found |= set(manager.driver.guests)
    return found


async def test_the_guest_of_a_deleted_server_is_reaped(tmp_path: Path) -> None:
    async with boot_cloud(tmp_path) as cloud:
        orphan, survivor = await _orphan_and_survivor(cloud)
        assert {orphan, survivor} <= _guests(cloud)
        for manager in cloud.computes():
            await manager._cleanup_running_deleted_instances()
        assert orphan not in _guests(cloud)
        assert survivor in _guests(cloud)


async def test_log_only_reports_it(tmp_path: Path) -> None:
    async with boot_cloud(tmp_path, compute={"running_deleted_instance_action": "log"}) as cloud:
        orphan, _survivor = await _orphan_and_survivor(cloud)
        for manager in cloud.computes():
            await manager._cleanup_running_deleted_instances()
        assert orphan in _guests(cloud)
