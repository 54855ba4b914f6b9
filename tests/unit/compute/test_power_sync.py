"""The power-state sync: guests changed behind the cloud's back, as Nova's
``_sync_power_states`` settles them, called directly and from the periodic loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from cumulo.compute.states import PowerState
from cumulo.db.models.instances import Instance
from cumulo.virt.fake import FakeDriver
from tests.boot_cloud import BootCloud, boot_cloud
from tests.unit.compute.power_cloud import (
    act,
    actions,
    active_server,
    guest,
    manager_of,
    notifications,
    settled,
    until,
)


@pytest.fixture
async def cloud(tmp_path: Path) -> Any:
    async with boot_cloud(tmp_path, compute={"sync_power_state_interval": 0}) as c:
        yield c


def _driver(cloud: BootCloud, row: Instance) -> FakeDriver:
    driver = manager_of(cloud, row.host).driver
    assert isinstance(driver, FakeDriver)
    return driver


async def _sync(cloud: BootCloud, uuid: str) -> None:
    """One round of the sync on the server's host."""
    await manager_of(cloud, (await cloud.instance(uuid)).host)._sync_power_states()


@pytest.mark.parametrize("state", [PowerState.SHUTDOWN, PowerState.CRASHED])
async def test_a_guest_that_went_down_by_itself_shows_shutoff(
    cloud: BootCloud, state: PowerState
) -> None:
    uuid = await active_server(cloud)
    sent = await notifications(cloud)
    _driver(cloud, await cloud.instance(uuid)).set_guest_state(uuid, state)
    await _sync(cloud, uuid)
    server = await settled(cloud, uuid, "stopped")
    assert server["status"] == "SHUTOFF"
    assert server["OS-EXT-STS:power_state"] == PowerState.SHUTDOWN
    stop = (await actions(cloud, uuid))[0]
    assert (stop["action"], stop["user_id"], stop["project_id"]) == ("stop", None, None)
    assert [(e["event"], e["result"]) for e in stop["events"]] == [
        ("compute_stop_instance", "Success")
    ]
    await until(lambda: "instance.power_off.end" in sent)
    # the user starts it again as any stopped server
    assert (await act(cloud, uuid, {"os-start": None})).status_code == 202
    assert (await settled(cloud, uuid, "active"))["OS-EXT-STS:power_state"] == 1


async def test_a_stopped_server_whose_guest_runs_is_powered_off(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    await act(cloud, uuid, {"os-stop": None})
    await cloud.wait(uuid, "stopped")
    vm = await guest(cloud, uuid)
    vm.state = PowerState.RUNNING  # started by hand on the hypervisor
    await _sync(cloud, uuid)
    server = await settled(cloud, uuid, "stopped")
    assert (server["status"], server["OS-EXT-STS:power_state"]) == ("SHUTOFF", 4)
    assert vm.state == PowerState.SHUTDOWN
    assert [a["action"] for a in await actions(cloud, uuid)] == ["stop", "stop", "create"]


@pytest.mark.parametrize(("state", "shown"), [(PowerState.PAUSED, 3), (None, 0)])
async def test_an_active_server_whose_guest_is_paused_or_gone_is_left_active(
    cloud: BootCloud, state: PowerState | None, shown: int
) -> None:
    uuid = await active_server(cloud)
    driver = _driver(cloud, await cloud.instance(uuid))
    if state is None:
        del driver.guests[uuid]
    else:
        driver.set_guest_state(uuid, state)
    await _sync(cloud, uuid)
    server = await settled(cloud, uuid, "active")
    assert (server["status"], server["OS-EXT-STS:power_state"]) == ("ACTIVE", shown)
    assert [a["action"] for a in await actions(cloud, uuid)] == ["create"]


async def test_a_server_with_a_task_is_left_to_its_task(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    async with cloud.runtime.db.write() as session:
        await session.execute(
            update(Instance).where(Instance.uuid == uuid).values(task_state="rebooting")
        )
    (await guest(cloud, uuid)).state = PowerState.SHUTDOWN
    await _sync(cloud, uuid)
    row = await cloud.instance(uuid)
    assert (row.vm_state, row.task_state, row.power_state) == ("active", "rebooting", 1)


async def test_a_server_some_work_holds_is_left_for_the_next_round(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    manager = manager_of(cloud, (await cloud.instance(uuid)).host)
    (await guest(cloud, uuid)).state = PowerState.SHUTDOWN
    async with manager.locks.hold(uuid):
        await manager._sync_power_states()
    assert (await cloud.instance(uuid)).vm_state == "active"
    await manager._sync_power_states()
    assert (await cloud.wait(uuid, "stopped")).power_state == PowerState.SHUTDOWN


async def test_the_periodic_sync_finds_it_by_itself(tmp_path: Path) -> None:
    async with boot_cloud(tmp_path, compute={"sync_power_state_interval": 0.05}) as cloud:
        uuid = await active_server(cloud)
        (await guest(cloud, uuid)).state = PowerState.SHUTDOWN
        server = await settled(cloud, uuid, "stopped")
        assert server["status"] == "SHUTOFF"


async def test_no_periodic_sync_when_disabled(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    (await guest(cloud, uuid)).state = PowerState.SHUTDOWN
    await asyncio.sleep(0.3)
    row = await cloud.instance(uuid)
    assert (row.vm_state, row.power_state) == ("active", PowerState.RUNNING)
