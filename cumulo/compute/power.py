"""The compute host's side of stop, start and reboot (Nova's ``stop_instance``,
``start_instance`` and ``reboot_instance``).

The API has already moved task_state (``powering-off``, ``powering-on``,
``rebooting``/``rebooting_hard``) and cast the work here. Each action runs
under the instance's lock and first checks that the instance still carries
the task_state its request set: a message delivered twice, or one that a
delete overtook, finds something else and does nothing. Every later change
is a conditional update on the task_state this action set, so a delete
arriving meanwhile wins. ``Recorder.event`` records the event, and on a
failure the fault and the reverted task_state.

- stop: ``driver.power_off``, then vm_state STOPPED with the driver's power_state.
- start: ``driver.power_on`` with the network and block device info, then ACTIVE.
- reboot: task_state ``reboot_pending``(``_hard``) once the host took it,
  ``reboot_started``(``_hard``) just before ``driver.reboot``, then ACTIVE.
  A failed reboot whose guest still runs stays ACTIVE with a fault; one whose
  guest is down goes to ERROR, as Nova's ``_reboot_instance`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any, Literal

from cumulo.compute import instances
from cumulo.compute.block_device_info import get_instance_block_device_info
from cumulo.compute.errors import InstanceNotFound
from cumulo.compute.instances import UnexpectedTaskState
from cumulo.compute.locks import InstanceLocks
from cumulo.compute.messages import RebootInstance, StartInstance, StopInstance
from cumulo.compute.recorder import Recorder
from cumulo.compute.states import (
    HARD_REBOOT_STATES,
    SOFT_REBOOT_STATES,
    PowerState,
    TaskState,
    VmState,
)
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance
from cumulo.network.model import NetworkInfo
from cumulo.network.rpcapi import NetworkAPI
from cumulo.virt.driver import ComputeDriver
from cumulo.virt.errors import InstanceNotFoundInDriver

LOG = logging.getLogger(__name__)

STOP_EVENT = "compute_stop_instance"
START_EVENT = "compute_start_instance"
REBOOT_EVENT = "compute_reboot_instance"
SHUTDOWN_TIMEOUT = 60.0
"""Seconds a clean stop lets the guest OS shut down before it is powered off (Nova's
``shutdown_timeout``); the image property ``os_shutdown_timeout`` overrides it."""


class PowerActions:
    def __init__(
        self,
        recorder: Recorder,
        driver: ComputeDriver,
        locks: InstanceLocks,
        network_api: NetworkAPI,
    ) -> None:
        self.recorder = recorder
        self.db = recorder.db
        self.driver = driver
        self.locks = locks
        self.network_api = network_api

    # --- the bus's entry points: each takes the instance's lock ----------------------------

    async def stop_instance(self, ctx: RequestContext, msg: StopInstance) -> None:
        async with self.locks.hold(msg.instance_uuid):
            await self.do_stop_instance(ctx, msg.instance_uuid, msg.clean_shutdown)

    async def start_instance(self, ctx: RequestContext, msg: StartInstance) -> None:
        async with self.locks.hold(msg.instance_uuid):
            await self.do_start_instance(ctx, msg.instance_uuid)

    async def reboot_instance(self, ctx: RequestContext, msg: RebootInstance) -> None:
        async with self.locks.hold(msg.instance_uuid):
            await self.do_reboot_instance(ctx, msg.instance_uuid, msg.reboot_type)

    async def resume(self, ctx: RequestContext, uuid: str) -> None:
        """Finish the stop, start or reboot a stopped compute process left under way
        (Nova's ``_init_instance``); an instance in no such task is left alone."""
        async with self.locks.hold(uuid):
            try:
                async with self.db.read() as session:
                    instance = await instances.get_instance(session, None, uuid)
                task_state = instance.task_state
                if task_state == TaskState.POWERING_OFF:
                    await self.do_stop_instance(ctx, uuid, clean_shutdown=True)
                elif task_state == TaskState.POWERING_ON:
                    await self.do_start_instance(ctx, uuid)
                elif task_state in SOFT_REBOOT_STATES + HARD_REBOOT_STATES:
                    await self._resume_reboot(ctx, instance)
            except (InstanceNotFound, UnexpectedTaskState) as exc:
                LOG.info("Not resuming the work on %s: %s", uuid, exc.format_message())

    async def _resume_reboot(self, ctx: RequestContext, instance: Instance) -> None:
        """A reboot the guest went through ends; any other starts again, hard if the
        guest is down (Nova's ``_retry_reboot``)."""
        task_state = instance.task_state
        running = await get_power_state(self.driver, instance) == PowerState.RUNNING
        started = (TaskState.REBOOT_STARTED, TaskState.REBOOT_STARTED_HARD)
        if running and task_state in started:
            await self._rest(instance, VmState.ACTIVE, started)
            return
        soft = task_state in SOFT_REBOOT_STATES and running
        if task_state in SOFT_REBOOT_STATES and not soft:
            await self._update(
                instance, {"task_state": TaskState.REBOOT_PENDING_HARD}, [task_state]
            )
        await self.do_reboot_instance(ctx, instance.uuid, "SOFT" if soft else "HARD")

    # --- the work: the caller holds the instance's lock ------------------------------------

    async def do_stop_instance(self, ctx: RequestContext, uuid: str, clean_shutdown: bool) -> None:
        instance = await self._pending(uuid, "stop", [TaskState.POWERING_OFF])
        if instance is None:
            return
        async with self.recorder.event(ctx, uuid, STOP_EVENT, reverts=[TaskState.POWERING_OFF]):
            await self.recorder.notify(ctx, "instance.power_off.start", instance)
            timeout = _shutdown_timeout(instance) if clean_shutdown else 0.0
            await self.driver.power_off(instance, timeout)
            await self._rest(instance, VmState.STOPPED, [TaskState.POWERING_OFF])
            await self.recorder.notify(ctx, "instance.power_off.end", instance)

    async def do_start_instance(self, ctx: RequestContext, uuid: str) -> None:
        instance = await self._pending(uuid, "start", [TaskState.POWERING_ON])
        if instance is None:
            return
        async with self.recorder.event(ctx, uuid, START_EVENT, reverts=[TaskState.POWERING_ON]):
            await self.recorder.notify(ctx, "instance.power_on.start", instance)
            network_info = await self._network_info(ctx, uuid)
            block_device_info = await get_instance_block_device_info(self.db, uuid)
            await self.driver.power_on(ctx, instance, network_info, block_device_info)
            await self._rest(instance, VmState.ACTIVE, [TaskState.POWERING_ON])
            await self.recorder.notify(ctx, "instance.power_on.end", instance)

    async def do_reboot_instance(
        self, ctx: RequestContext, uuid: str, reboot_type: Literal["SOFT", "HARD"]
    ) -> None:
        states = SOFT_REBOOT_STATES if reboot_type == "SOFT" else HARD_REBOOT_STATES
        _, pending, started = states
        instance = await self._pending(uuid, "reboot", states)
        if instance is None:
            return
        async with self.recorder.event(ctx, uuid, REBOOT_EVENT, reverts=states):
            network_info = await self._network_info(ctx, uuid)
            await self.recorder.notify(ctx, "instance.reboot.start", instance)
            power_state = await get_power_state(self.driver, instance)
            await self._update(
                instance, {"task_state": pending, "power_state": power_state}, states
            )
            if power_state != PowerState.RUNNING:
                LOG.warning("Rebooting %s, whose guest is not running (%s)", uuid, power_state.name)
            await self._update(instance, {"task_state": started}, [pending])
            try:
                await self.driver.reboot(ctx, instance, network_info, reboot_type)
            except Exception as exc:
                await self._reboot_failed(ctx, instance, started, exc)
            await self._rest(instance, VmState.ACTIVE, [started])
            await self.recorder.notify(ctx, "instance.reboot.end", instance)

    async def _reboot_failed(
        self, ctx: RequestContext, instance: Instance, started: TaskState, exc: Exception
    ) -> None:
        """A guest the failed reboot left running stays ACTIVE with a fault; any other is ERROR."""
        power_state = await get_power_state(self.driver, instance)
        if power_state == PowerState.RUNNING:
            LOG.warning("Reboot of %s failed but its guest is running: %s", instance.uuid, exc)
            await self.recorder.fault(instance.uuid, exc)
            await self.recorder.notify(ctx, "instance.reboot.error", instance, priority="ERROR")
            return
        values = {"vm_state": VmState.ERROR, "task_state": None, "power_state": power_state}
        await self._update(instance, values, [started])
        raise exc

    # --- steps ---------------------------------------------------------------------------

    async def _pending(self, uuid: str, action: str, states: Collection[str]) -> Instance | None:
        """The instance if it still waits for this action; None for a stale or overtaken one."""
        try:
            async with self.db.read() as session:
                instance = await instances.get_instance(session, None, uuid)
        except InstanceNotFound:
            LOG.info("Not doing %s of %s: it is deleted", action, uuid)
            return None
        if instance.task_state not in states:
            LOG.info(
                "Not doing %s of %s: its task_state is %s, not one of %s",
                action, uuid, instance.task_state, list(states),
            )  # fmt: skip
            return None
        return instance

    async def _update(
        self, instance: Instance, values: Mapping[str, Any], expected: Collection[str]
    ) -> None:
        async with self.db.write() as session:
            await instances.update_instance(
                session, instance.uuid, values, expected_task_state=expected
            )
        for key, value in values.items():
            setattr(instance, key, value)

    async def _rest(self, instance: Instance, vm_state: VmState, expected: Collection[str]) -> None:
        """End the action: ``vm_state``, no task, and the power_state the driver reports."""
        power_state = await get_power_state(self.driver, instance)
        values = {"vm_state": vm_state, "task_state": None, "power_state": power_state}
        await self._update(instance, values, expected)

    async def _network_info(self, ctx: RequestContext, uuid: str) -> NetworkInfo:
        admin = RequestContext.admin_context(ctx.request_id)
        return await self.network_api.get_instance_nw_info(admin, uuid)


async def get_power_state(driver: ComputeDriver, instance: Instance) -> PowerState:
    """The guest's power state; NOSTATE when the hypervisor has no such guest (Nova's
    ``_get_power_state``)."""
    try:
        return (await driver.get_info(instance)).state
    except InstanceNotFoundInDriver:
        return PowerState.NOSTATE


def _shutdown_timeout(instance: Instance) -> float:
    value = (instance.system_metadata or {}).get("image_os_shutdown_timeout")
    try:
        return float(value) if value is not None else SHUTDOWN_TIMEOUT
    except ValueError:
        return SHUTDOWN_TIMEOUT
