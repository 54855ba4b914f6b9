"""An instance's state machine: vm_state, task_state, power_state, and the status the API shows.

``vm_state`` is where the instance rests, ``task_state`` what is being done
to it (None when nothing), as ``nova/compute/vm_states.py`` and
``task_states.py`` define them. ``STATUS`` is Nova's ``_STATE_MAP``: the one
table from which every server status is derived. ``BUILD_STEPS`` is the boot
path's task_state sequence; the compute manager moves along it with
conditional updates, each expecting the step before.
"""

from __future__ import annotations

import enum


class VmState(enum.StrEnum):
    ACTIVE = "active"
    BUILDING = "building"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    RESCUED = "rescued"
    RESIZED = "resized"
    SOFT_DELETED = "soft-delete"
    DELETED = "deleted"
    ERROR = "error"
    SHELVED = "shelved"
    SHELVED_OFFLOADED = "shelved_offloaded"


class TaskState(enum.StrEnum):
    SCHEDULING = "scheduling"
    NETWORKING = "networking"
    BLOCK_DEVICE_MAPPING = "block_device_mapping"
    SPAWNING = "spawning"
    DELETING = "deleting"
    REBOOTING = "rebooting"
    REBOOT_PENDING = "reboot_pending"
    REBOOT_STARTED = "reboot_started"
    REBOOTING_HARD = "rebooting_hard"
    REBOOT_PENDING_HARD = "reboot_pending_hard"
    REBOOT_STARTED_HARD = "reboot_started_hard"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    UPDATING_PASSWORD = "updating_password"
    REBUILDING = "rebuilding"
    REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
    REBUILD_SPAWNING = "rebuild_spawning"
    MIGRATING = "migrating"
    RESIZE_PREP = "resize_prep"
    RESIZE_MIGRATING = "resize_migrating"
    RESIZE_MIGRATED = "resize_migrated"
    RESIZE_FINISH = "resize_finish"
    RESIZE_REVERTING = "resize_reverting"


class PowerState(enum.IntEnum):
    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


BUILD_STEPS: tuple[TaskState | None, ...] = (
    TaskState.SCHEDULING,
    None,
    TaskState.NETWORKING,
    TaskState.BLOCK_DEVICE_MAPPING,
    TaskState.SPAWNING,
)
"""task_state along a build: the API schedules, compute clears it and then walks the rest."""

_DEFAULT = "default"
_V = VmState
_T = TaskState
_REBOOT = (_T.REBOOTING, _T.REBOOT_PENDING, _T.REBOOT_STARTED)
_HARD_REBOOT = (_T.REBOOTING_HARD, _T.REBOOT_PENDING_HARD, _T.REBOOT_STARTED_HARD)
_REBUILD = (_T.REBUILDING, _T.REBUILD_BLOCK_DEVICE_MAPPING, _T.REBUILD_SPAWNING)
_RESIZE = (_T.RESIZE_PREP, _T.RESIZE_MIGRATING, _T.RESIZE_MIGRATED, _T.RESIZE_FINISH)


def _each(states: tuple[TaskState, ...], status: str) -> dict[str, str]:
    return {state.value: status for state in states}


STATUS: dict[str, dict[str, str]] = {
    _V.ACTIVE: {
        _DEFAULT: "ACTIVE",
        **_each(_REBOOT, "REBOOT"),
        **_each(_HARD_REBOOT, "HARD_REBOOT"),
        _T.UPDATING_PASSWORD: "PASSWORD",
        **_each(_REBUILD, "REBUILD"),
        _T.MIGRATING: "MIGRATING",
        **_each(_RESIZE, "RESIZE"),
    },
    _V.BUILDING: {_DEFAULT: "BUILD"},
    _V.STOPPED: {_DEFAULT: "SHUTOFF", **_each(_RESIZE, "RESIZE"), **_each(_REBUILD, "REBUILD")},
    _V.RESIZED: {_DEFAULT: "VERIFY_RESIZE", _T.RESIZE_REVERTING: "REVERT_RESIZE"},
    _V.PAUSED: {_DEFAULT: "PAUSED", _T.MIGRATING: "MIGRATING"},
    _V.SUSPENDED: {_DEFAULT: "SUSPENDED"},
    _V.RESCUED: {_DEFAULT: "RESCUE"},
    _V.ERROR: {_DEFAULT: "ERROR", **_each(_REBUILD, "REBUILD")},
    _V.DELETED: {_DEFAULT: "DELETED"},
    _V.SOFT_DELETED: {_DEFAULT: "SOFT_DELETED"},
    _V.SHELVED: {_DEFAULT: "SHELVED"},
    _V.SHELVED_OFFLOADED: {_DEFAULT: "SHELVED_OFFLOADED"},
}
"""vm_state → task_state → status; ``default`` covers every other task_state."""


def status_from_state(vm_state: str, task_state: str | None = None) -> str:
    """The status the API shows for an instance (Nova's ``common.status_from_state``)."""
    by_task = STATUS.get(vm_state, {_DEFAULT: "UNKNOWN"})
    return by_task.get(task_state or "", by_task[_DEFAULT])


def states_from_status(status: str) -> tuple[list[str], list[str | None] | None] | None:
    """The (vm_states, task_states) a ``?status=`` filter selects; None if no such status.

    ``task_states`` None means any task state: as Nova's
    ``task_and_vm_state_from_status``, a status that is some vm_state's
    default selects that vm_state whatever its task.
    """
    wanted = status.upper()
    vm_states: list[str] = []
    task_states: list[str | None] = []
    any_task = False
    for vm_state, by_task in STATUS.items():
        for task_state, shown in by_task.items():
            if shown != wanted:
                continue
            vm_states.append(vm_state)
            if task_state == _DEFAULT:
                any_task = True
            else:
                task_states.append(task_state)
    if not vm_states:
        return None
    return sorted(set(vm_states)), None if any_task else task_states


PROGRESS_STATUSES = frozenset(
    {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
)
"""Statuses whose server bodies carry ``progress``."""
