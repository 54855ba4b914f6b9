"""An instance's state machine: vm_state, task_state, power_state, and the status the API shows.

``vm_state`` is where the instance rests, ``task_state`` what is being done
to it (None when nothing), as ``nova/compute/vm_states.py`` and
``task_states.py`` define them. ``STATUS`` is Nova's ``_STATE_MAP``: the one
table from which every server status is derived. ``BUILD_STEPS`` is the boot
path's task_state sequence; the compute manager moves along it with
conditional updates, each expecting the step before.

A server action the API accepts has a ``Transition``: the vm_states and
task_states it starts from (Nova's ``check_instance_state``) and the task it
starts. ``check`` refuses any other state with Nova's 409;
``instances.transition`` checks and moves task_state in one conditional
update.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cumulo.compute.errors import InstanceInvalidState


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
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    SUSPENDING = "suspending"
    RESUMING = "resuming"
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


# --- what an action may start from ----------------------------------------------------------

SOFT_REBOOT_STATES: tuple[TaskState, ...] = _REBOOT
"""task_states of a soft reboot: the API's, then compute's acknowledgement, then the driver's."""
HARD_REBOOT_STATES: tuple[TaskState, ...] = _HARD_REBOOT

ALLOW_SOFT_REBOOT = frozenset({_V.ACTIVE})
ALLOW_HARD_REBOOT = frozenset({_V.ACTIVE, _V.STOPPED, _V.PAUSED, _V.SUSPENDED, _V.ERROR})
ALLOW_REBOOT: frozenset[str | None] = frozenset(
    {None, *_REBOOT, _T.REBOOTING_HARD, _T.RESUMING, _T.UNPAUSING, _T.PAUSING, _T.SUSPENDING}
)
"""task_states a hard reboot may interrupt (Nova's ``task_states.ALLOW_REBOOT``)."""


class InstanceNotLaunched(InstanceInvalidState):
    """The instance never became ACTIVE, so there is no guest to act on."""

    message = "Instance %(instance_uuid)s is in an invalid state for '%(action)s'"


@dataclass(frozen=True)
class Transition:
    """Where an action may start (None: any vm_state) and the task_state it sets."""

    vm_states: frozenset[str] | None
    task_states: frozenset[str | None]
    task_state: TaskState | None = None
    must_have_launched: bool = True

    def check(
        self, action: str, uuid: str, vm_state: str, task_state: str | None, launched: bool
    ) -> None:
        """Refuse a state the action may not start from, with Nova's 409 and its wording."""
        if self.vm_states is not None and vm_state not in self.vm_states:
            raise InstanceInvalidState(
                action=action, instance_uuid=uuid, attr="vm_state", state=vm_state
            )
        if task_state not in self.task_states:
            raise InstanceInvalidState(
                action=action, instance_uuid=uuid, attr="task_state", state=task_state
            )
        if self.must_have_launched and not launched:
            raise InstanceNotLaunched(action=action, instance_uuid=uuid)


def _only(*states: str | None) -> frozenset[str | None]:
    return frozenset(states)


STOP = Transition(frozenset({_V.ACTIVE, _V.ERROR}), _only(None), _T.POWERING_OFF)
FORCE_STOP = Transition(None, _only(None), _T.POWERING_OFF, must_have_launched=False)
"""The stop the power-state sync makes of a STOPPED instance whose guest runs."""
START = Transition(frozenset({_V.STOPPED}), _only(None), _T.POWERING_ON)
REBOOT = Transition(ALLOW_SOFT_REBOOT | ALLOW_HARD_REBOOT, ALLOW_REBOOT)
"""The check every reboot passes first; then that of its type."""
SOFT_REBOOT = Transition(ALLOW_SOFT_REBOOT, _only(None), _T.REBOOTING)
HARD_REBOOT = Transition(ALLOW_HARD_REBOOT, ALLOW_REBOOT, _T.REBOOTING_HARD)


def powered_off(power_state: int) -> bool:
    """The guest does not run: shut down, crashed, or not found on the hypervisor."""
    return power_state in (PowerState.NOSTATE, PowerState.SHUTDOWN, PowerState.CRASHED)
