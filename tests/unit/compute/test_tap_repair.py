"""The repair of a tap deleted under a running guest: the guest is rebooted hard, once its
tap has been lost for two rounds, through the reboot path the user sees as an action.

The fake driver's guests hold no tap, so the data plane here is a stand-in that says
which taps are held; the rest (instances, locks, the reboot) is the cloud's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cumulo.compute.states import PowerState
from cumulo.compute.tap_repair import TapRepair
from tests.boot_cloud import BootCloud, boot_cloud
from tests.unit.compute.power_cloud import actions, active_server, guest, manager_of


class _HeldTaps:
    """A data plane whose held taps the test sets."""

    def __init__(self) -> None:
        self.held: set[str] = set()

    async def held_taps(self) -> set[str]:
        return set(self.held)


@pytest.fixture
async def cloud(tmp_path: Path) -> Any:
    async with boot_cloud(tmp_path, compute={"sync_power_state_interval": 0}) as c:
        yield c


async def _repair(cloud: BootCloud, uuid: str) -> tuple[TapRepair, _HeldTaps, list[str]]:
    """A repair on the server's host, whose taps (one per NIC) are all held."""
    row = await cloud.instance(uuid)
    manager = manager_of(cloud, row.host)
    plane = _HeldTaps()
    taps = [vif["devname"] for vif in row.network_info]
    plane.held = set(taps)
    repair = TapRepair(cloud.runtime.db, manager.host, plane, manager.locks, manager.power)  # type: ignore[arg-type]
    return repair, plane, taps


async def test_a_guest_whose_tap_stays_lost_is_rebooted_hard_and_it_shows(
    cloud: BootCloud,
) -> None:
    uuid = await active_server(cloud)
    repair, plane, taps = await _repair(cloud, uuid)
    assert taps, "the server has a NIC"
    assert await repair.repair_lost_taps() == []

    plane.held.clear()
    assert await repair.repair_lost_taps() == [], "one round could be a guest going down"
    assert await repair.repair_lost_taps() == [uuid]

    row = await cloud.wait(uuid, "active")
    assert (row.task_state, row.power_state) == (None, PowerState.RUNNING)
    assert (await guest(cloud, uuid)).console[-1] == "hard reboot"
    reboot = (await actions(cloud, uuid))[0]
    assert (reboot["action"], reboot["user_id"]) == ("reboot", None)
    assert [(e["event"], e["result"]) for e in reboot["events"]] == [
        ("compute_reboot_instance", "Success")
    ]


async def test_held_taps_and_a_tap_found_again_leave_the_guest_alone(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    repair, plane, taps = await _repair(cloud, uuid)
    for _ in range(3):
        assert await repair.repair_lost_taps() == []
    plane.held.clear()
    assert await repair.repair_lost_taps() == []
    plane.held = set(taps)
    assert await repair.repair_lost_taps() == []
    plane.held.clear()
    assert await repair.repair_lost_taps() == []
    assert [a["action"] for a in await actions(cloud, uuid)] == ["create"]


async def test_a_guest_that_is_not_running_or_is_busy_is_not_rebooted(cloud: BootCloud) -> None:
    uuid = await active_server(cloud)
    repair, plane, _taps = await _repair(cloud, uuid)
    plane.held.clear()
    (await guest(cloud, uuid)).state = PowerState.SHUTDOWN
    assert await repair.repair_lost_taps() == []
    assert await repair.repair_lost_taps() == [], "the power-state sync's to settle"

    (await guest(cloud, uuid)).state = PowerState.RUNNING
    manager = manager_of(cloud, (await cloud.instance(uuid)).host)
    async with manager.locks.hold(uuid):
        assert await repair.repair_lost_taps() == []
    assert await repair.repair_lost_taps() == [uuid]
