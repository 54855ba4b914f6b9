"""Stop, start and reboot through the API, the compute host and the fake driver:
what the user sees (status, power state, actions and events), the notifications,
a driver that fails, a delete racing a stop, and a restart in the middle."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from cumulo.compute.states import PowerState
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance
from cumulo.virt.fake import FakeDriver, Injection
from tests.boot_cloud import DEMO, BootCloud, boot_cloud
from tests.fakes import DEMO_USER
from tests.unit.compute.power_cloud import (
    HARD,
    SERVERS,
    SOFT,
    START,
    STOP,
    act,
    actions,
    active_server,
    failed,
    fault_message,
    guest,
    manager_of,
    notifications,
    settled,
    shown,
    until,
)


@pytest.fixture
async def cloud(tmp_path: Path) -> Any:
    async with boot_cloud(tmp_path, compute={"sync_power_state_interval": 0}) as c:
        yield c


async def test_stop_then_start(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    sent = await notifications(cloud)
    r = await act(cloud, uuid, STOP)
    assert (r.status_code, r.content) == (202, b"")
    server = await settled(cloud, uuid, "stopped")
    assert server["status"] == "SHUTOFF"
    assert server["OS-EXT-STS:power_state"] == PowerState.SHUTDOWN
    assert (await guest(cloud, uuid)).state == PowerState.SHUTDOWN

    r = await act(cloud, uuid, START)
    assert (r.status_code, r.content) == (202, b"")
    server = await settled(cloud, uuid, "active")
    assert server["status"] == "ACTIVE"
    assert server["OS-EXT-STS:power_state"] == PowerState.RUNNING
    assert (await guest(cloud, uuid)).state == PowerState.RUNNING

    done = await actions(cloud, uuid)
    assert [a["action"] for a in done] == ["start", "stop", "create"]
    assert [(e["event"], e["result"]) for e in done[0]["events"]] == [
        ("compute_start_instance", "Success")
    ]
    assert [(e["event"], e["result"]) for e in done[1]["events"]] == [
        ("compute_stop_instance", "Success")
    ]
    assert done[1]["user_id"] == DEMO_USER
    await until(lambda: "instance.power_on.end" in sent)
    assert sent == [
        "instance.power_off.start",
        "instance.power_off.end",
        "instance.power_on.start",
        "instance.power_on.end",
    ]
    assert await cloud.leaks() == []


async def test_soft_and_hard_reboot(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    sent = await notifications(cloud)
    for body in (SOFT, {"reboot": {"type": "hard"}}):
        r = await act(cloud, uuid, body)
        assert (r.status_code, r.content) == (202, b"")
        server = await settled(cloud, uuid, "active")
        assert (server["status"], server["OS-EXT-STS:power_state"]) == ("ACTIVE", 1)
    console = (await guest(cloud, uuid)).console
    assert console[-2:] == ["soft reboot", "hard reboot"]
    done = await actions(cloud, uuid)
    assert [a["action"] for a in done] == ["reboot", "reboot", "create"]
    assert [e["event"] for e in done[0]["events"]] == ["compute_reboot_instance"]
    await until(lambda: sent.count("instance.reboot.end") == 2)
    assert sent == ["instance.reboot.start", "instance.reboot.end"] * 2


async def test_hard_reboot_starts_a_stopped_server(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    await act(cloud, uuid, STOP)
    await cloud.wait(uuid, "stopped")
    assert (await act(cloud, uuid, HARD)).status_code == 202
    server = await settled(cloud, uuid, "active")
    assert (server["status"], server["OS-EXT-STS:power_state"]) == ("ACTIVE", 1)


@pytest.mark.parametrize(
    ("body", "call", "status", "task_state"),
    [
        (STOP, "power_off", "ACTIVE", "powering-off"),
        (SOFT, "reboot", "REBOOT", "reboot_started"),
        (HARD, "reboot", "HARD_REBOOT", "reboot_started_hard"),
    ],
)
async def test_status_while_the_action_runs(
    cloud: BootCloud, body: dict[str, Any], call: Any, status: str, task_state: str
) -> None:
    uuid = await active_server(cloud)
    release = asyncio.Event()
    held = Injection(fail=None, call=call, times=1, wait=release)
    FakeDriver.inject(held)
    assert (await act(cloud, uuid, body)).status_code == 202
    await until(lambda: held.times == 0)
    server = await shown(cloud, uuid)
    assert (server["status"], server["OS-EXT-STS:task_state"]) == (status, task_state)
    release.set()
    assert (await settled(cloud, uuid, "active", "stopped"))["OS-EXT-STS:task_state"] is None


async def test_start_shows_shutoff_until_the_guest_runs(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    await act(cloud, uuid, STOP)
    await cloud.wait(uuid, "stopped")
    release = asyncio.Event()
    held = Injection(fail=None, call="power_on", times=1, wait=release)
    FakeDriver.inject(held)
    await act(cloud, uuid, START)
    await until(lambda: held.times == 0)
    server = await shown(cloud, uuid)
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("SHUTOFF", "powering-on")
    release.set()
    assert (await settled(cloud, uuid, "active"))["status"] == "ACTIVE"


# --- failures ------------------------------------------------------------------------------


async def test_failed_stop_reverts_the_task_and_records_a_fault(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    sent = await notifications(cloud)
    FakeDriver.inject(Injection("retryable", call="power_off", times=1))
    assert (await act(cloud, uuid, STOP)).status_code == 202
    server = await settled(cloud, uuid, "active")
    assert (server["status"], server["OS-EXT-STS:power_state"]) == ("ACTIVE", 1)
    host = (await cloud.instance(uuid)).host
    assert await fault_message(cloud, uuid) == (
        f"The hypervisor failed: injected failure of power_off on {host}"
    )
    stop = (await actions(cloud, uuid))[0]
    assert (stop["action"], stop["message"]) == ("stop", "Error")
    event = stop["events"][0]
    assert (event["event"], event["result"]) == ("compute_stop_instance", "Error")
    assert "VirtError" in event["traceback"]
    await until(lambda: "compute.exception" in sent)
    assert "instance.power_off.end" not in sent
    # the server can be stopped once the hypervisor works again
    assert (await act(cloud, uuid, STOP)).status_code == 202
    assert (await settled(cloud, uuid, "stopped"))["status"] == "SHUTOFF"


async def test_failed_start_leaves_the_server_stopped(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    await act(cloud, uuid, STOP)
    await cloud.wait(uuid, "stopped")
    FakeDriver.inject(Injection("fatal", call="power_on", times=1))
    await act(cloud, uuid, START)
    server = await settled(cloud, uuid, "stopped")
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("SHUTOFF", None)
    assert "injected fatal failure of power_on" in (await fault_message(cloud, uuid) or "")
    assert (await actions(cloud, uuid))[0]["events"][0]["result"] == "Error"


async def test_failed_reboot_with_the_guest_down_is_an_error(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    FakeDriver.inject(Injection("retryable", call="reboot", times=1, leaves=PowerState.SHUTDOWN))
    await act(cloud, uuid, HARD)
    server = await failed(cloud, uuid)
    assert (server["status"], server["OS-EXT-STS:power_state"]) == ("ERROR", 4)
    host = (await cloud.instance(uuid)).host
    assert server["fault"]["message"].endswith(f"injected failure of reboot on {host}")
    reboot = (await actions(cloud, uuid))[0]
    assert (reboot["message"], reboot["events"][0]["result"]) == ("Error", "Error")
    # a hard reboot is how a user brings it back
    assert (await act(cloud, uuid, HARD)).status_code == 202
    server = await settled(cloud, uuid, "active")
    assert (server["status"], server["OS-EXT-STS:power_state"]) == ("ACTIVE", 1)


async def test_failed_reboot_with_the_guest_running_stays_active(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    sent = await notifications(cloud)
    FakeDriver.inject(Injection("retryable", call="reboot", times=1))
    await act(cloud, uuid, SOFT)
    server = await settled(cloud, uuid, "active")
    assert (server["status"], server["OS-EXT-STS:power_state"]) == ("ACTIVE", 1)
    assert "injected failure of reboot" in (await fault_message(cloud, uuid) or "")
    await until(lambda: "instance.reboot.end" in sent)
    assert sent == ["instance.reboot.start", "instance.reboot.error", "instance.reboot.end"]


# --- races and restarts --------------------------------------------------------------------


async def test_a_delete_racing_a_stop_wins(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    sent = await notifications(cloud)
    release = asyncio.Event()
    held = Injection(fail=None, call="power_off", times=1, wait=release)
    FakeDriver.inject(held)
    assert (await act(cloud, uuid, STOP)).status_code == 202
    await until(lambda: held.times == 0)  # the guest is being powered off
    r = await cloud.api.delete(f"{SERVERS}/{uuid}", headers=DEMO)
    assert r.status_code == 204
    assert (await cloud.instance(uuid)).task_state == "deleting"
    release.set()
    row = await cloud.wait(uuid, "deleted")
    assert row.deleted and row.vm_state == "deleted"
    stop = next(a for a in await actions(cloud, uuid) if a["action"] == "stop")
    assert stop["events"][0]["result"] == "Error"
    assert await cloud.fault(uuid) is None
    assert await cloud.leaks() == []
    await until(lambda: "instance.delete.end" in sent)
    assert "instance.power_off.end" not in sent  # the stop never claimed the server


async def test_a_stop_already_overtaken_by_a_delete_does_nothing(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    row = await cloud.instance(uuid)
    manager = manager_of(cloud, row.host)
    async with cloud.runtime.db.write() as session:
        await session.execute(
            update(Instance).where(Instance.uuid == uuid).values(task_state="deleting")
        )
    await manager.power.do_stop_instance(RequestContext.admin_context(), uuid, False)
    assert (await guest(cloud, uuid)).state == PowerState.RUNNING
    assert (await cloud.instance(uuid)).task_state == "deleting"


@pytest.mark.parametrize(
    ("task_state", "guest_state", "vm_state", "power_state"),
    [
        ("powering-off", PowerState.RUNNING, "stopped", PowerState.SHUTDOWN),
        ("powering-on", PowerState.SHUTDOWN, "active", PowerState.RUNNING),
        ("reboot_started", PowerState.SHUTDOWN, "active", PowerState.RUNNING),
        ("reboot_started_hard", PowerState.RUNNING, "active", PowerState.RUNNING),
    ],
)
async def test_a_restarted_host_finishes_the_action(
    cloud: BootCloud, task_state: str, guest_state: PowerState, vm_state: str, power_state: int
) -> None:
    uuid = await active_server(cloud)
    db_vm_state = "stopped" if task_state == "powering-on" else "active"
    async with cloud.runtime.db.write() as session:
        await session.execute(
            update(Instance)
            .where(Instance.uuid == uuid)
            .values(task_state=task_state, vm_state=db_vm_state)
        )
    (await guest(cloud, uuid)).state = guest_state
    manager = manager_of(cloud, (await cloud.instance(uuid)).host)
    await manager._init_instances()
    row = await cloud.instance(uuid)
    assert (row.vm_state, row.task_state, row.power_state) == (vm_state, None, power_state)
