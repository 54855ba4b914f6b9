"""The stop, start and reboot requests the API refuses, with Nova's status and words."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from cumulo.db.models.instances import Instance
from cumulo.virt.fake import FakeDriver, Injection
from tests.boot_cloud import ADMIN, BootCloud, boot_cloud
from tests.unit.compute.conftest import fault
from tests.unit.compute.power_cloud import HARD, SOFT, START, STOP, act, active_server, until


@pytest.fixture
async def cloud(tmp_path: Path) -> Any:
    async with boot_cloud(tmp_path, compute={"sync_power_state_interval": 0}) as c:
        yield c


async def _set(cloud: BootCloud, uuid: str, **values: Any) -> None:
    async with cloud.runtime.db.write() as session:
        await session.execute(update(Instance).where(Instance.uuid == uuid).values(**values))


async def _refused(cloud: BootCloud, uuid: str, body: dict[str, Any]) -> tuple[int, str]:
    r = await act(cloud, uuid, body)
    return r.status_code, fault(r)["message"]


@pytest.mark.parametrize(
    ("vm_state", "body", "action"),
    [
        ("stopped", STOP, "stop"),
        ("active", START, "start"),
        ("error", START, "start"),
        ("stopped", SOFT, "reboot"),
        ("error", SOFT, "reboot"),
        ("paused", SOFT, "reboot"),
        ("building", HARD, "reboot"),
        ("shelved", HARD, "reboot"),
        ("suspended", STOP, "stop"),
    ],
)
async def test_refused_in_a_vm_state(
    cloud: BootCloud, vm_state: str, body: dict[str, Any], action: str
) -> None:
    uuid = await active_server(cloud)
    await _set(cloud, uuid, vm_state=vm_state)
    assert await _refused(cloud, uuid, body) == (
        409,
        f"Cannot '{action}' instance {uuid} while it is in vm_state {vm_state}",
    )
    row = await cloud.instance(uuid)
    assert (row.vm_state, row.task_state) == (vm_state, None)  # nothing changed


@pytest.mark.parametrize(
    ("vm_state", "task_state", "body", "action"),
    [
        ("active", "powering-off", STOP, "stop"),
        ("stopped", "powering-on", START, "start"),
        ("active", "rebooting", SOFT, "reboot"),
        ("active", "reboot_started_hard", SOFT, "reboot"),
        ("active", "powering-off", HARD, "reboot"),
        ("stopped", "powering-on", SOFT, "reboot"),
        ("active", "deleting", STOP, "stop"),
    ],
)
async def test_refused_during_a_task(
    cloud: BootCloud, vm_state: str, task_state: str, body: dict[str, Any], action: str
) -> None:
    uuid = await active_server(cloud)
    await _set(cloud, uuid, vm_state=vm_state, task_state=task_state)
    assert await _refused(cloud, uuid, body) == (
        409,
        f"Cannot '{action}' instance {uuid} while it is in task_state {task_state}",
    )


@pytest.mark.parametrize("vm_state", ["active", "stopped", "paused", "suspended", "error"])
async def test_a_hard_reboot_is_accepted_from(cloud: BootCloud, vm_state: str) -> None:
    uuid = await active_server(cloud)
    await _set(cloud, uuid, vm_state=vm_state)
    assert (await act(cloud, uuid, HARD)).status_code == 202
    row = await cloud.wait(uuid, "active")
    assert row.power_state == 1


async def test_a_hard_reboot_overrides_a_soft_one(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    release = asyncio.Event()
    held = Injection(fail=None, call="reboot", times=1, wait=release)
    FakeDriver.inject(held)
    assert (await act(cloud, uuid, SOFT)).status_code == 202
    await until(lambda: held.times == 0)
    assert (await act(cloud, uuid, HARD)).status_code == 202
    assert (await cloud.instance(uuid)).task_state == "rebooting_hard"
    release.set()
    row = await cloud.wait(uuid, "active")
    assert row.power_state == 1


async def test_error_server_that_never_ran(cloud: BootCloud) -> None:
    huge = await cloud.flavor("huge", vcpus=1, ram=16384, disk=1)
    uuid = await cloud.create("big", flavorRef=huge)
    await cloud.wait(uuid, "error")
    assert await _refused(cloud, uuid, STOP) == (409, f"Instance {uuid} is not ready")
    assert await _refused(cloud, uuid, HARD) == (
        409,
        f"Instance {uuid} is in an invalid state for 'reboot'",
    )


async def test_a_locked_server_only_an_admin_may_stop(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    await _set(cloud, uuid, locked=True)
    for body in (STOP, SOFT, HARD):
        assert await _refused(cloud, uuid, body) == (409, f"Instance {uuid} is locked")
    assert (await act(cloud, uuid, STOP, headers=ADMIN)).status_code == 202
    await cloud.wait(uuid, "stopped")
    assert await _refused(cloud, uuid, START) == (409, f"Instance {uuid} is locked")


async def test_another_projects_server_is_not_found(cloud: BootCloud) -> None:
    uuid = await cloud.create("admins", headers=ADMIN)
    await cloud.wait(uuid, "active")
    for body in (STOP, START, SOFT):
        assert await _refused(cloud, uuid, body) == (
            404,
            f"Instance {uuid} could not be found.",
        )
    assert (await cloud.instance(uuid)).task_state is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"reboot": {}},
            "Invalid input for field/attribute reboot. Value: {}. 'type' is a required property",
        ),
        (
            {"reboot": {"type": "WARM"}},
            "Invalid input for field/attribute type. Value: WARM. 'WARM' is not one of "
            "['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
        ),
        (
            {"reboot": {"type": "SOFT", "force": True}},
            "Invalid input for field/attribute reboot. Value: {'type': 'SOFT', 'force': True}. "
            "Additional properties are not allowed ('force' was unexpected)",
        ),
        (
            {"reboot": None},
            "Invalid input for field/attribute reboot. Value: None. None is not of type 'object'",
        ),
    ],
)
async def test_bad_reboot_bodies(cloud: BootCloud, body: Any, message: str) -> None:
    uuid = await active_server(cloud)
    assert await _refused(cloud, uuid, body) == (400, message)


async def test_stop_and_start_take_any_value(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    assert (await act(cloud, uuid, {"os-stop": {}})).status_code == 202
    await cloud.wait(uuid, "stopped")
    assert (await act(cloud, uuid, {"os-start": {}})).status_code == 202
    await cloud.wait(uuid, "active")
