"""The periodic power-state sync: what the hypervisor says wins (Nova's ``_sync_power_states``).

For each instance of this host that has no task, the sync asks the driver
for the guest's power state and records it. Where the guest and the
vm_state disagree it acts as Nova's ``_sync_instance_power_state`` does:

| vm_state | guest | what happens |
|---|---|---|
| active | shut down, crashed or suspended | stopped through the stop API (SHUTOFF) |
| active | paused, or not found | nothing (paused by an operator? hypervisor restarting?) |
| stopped | running (anything but off, crashed or not found) | powered off again (``force_stop``) |
| paused | shut down or crashed | stopped (``force_stop``) |

An instance some other work holds (its lock is taken, or it has a task)
is left for the next round; every change is a conditional update on
``task_state`` None, so an action the API starts meanwhile wins. The stop
runs here, on this host, under the instance's lock, and is recorded as a
``stop`` action of its own.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from cumulo.compute import instances, power_api, states
from cumulo.compute.errors import InstanceNotFound
from cumulo.compute.instances import UnexpectedTaskState
from cumulo.compute.locks import InstanceLocks
from cumulo.compute.power import PowerActions, get_power_state
from cumulo.compute.states import PowerState, VmState
from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.db.models.instances import Instance
from cumulo.virt.driver import ComputeDriver

LOG = logging.getLogger(__name__)

CONCURRENCY = 8
"""Instances synced at once (the driver calls of each run off the event loop)."""


class PowerStateSync:
    def __init__(
        self,
        db: Database,
        host: str,
        driver: ComputeDriver,
        locks: InstanceLocks,
        power: PowerActions,
    ) -> None:
        self.db = db
        self.host = host
        self.driver = driver
        self.locks = locks
        self.power = power

    async def sync_power_states(self) -> None:
        """One round over every instance of this host."""
        async with self.db.read() as session:
            uuids = list(
                await session.scalars(
                    select(Instance.uuid).where(
                        Instance.host == self.host,
                        Instance.deleted == 0,
                        Instance.task_state.is_(None),
                    )
                )
            )
        on_hypervisor = len(await self.driver.list_instances())
        if on_hypervisor != len(uuids):
            LOG.debug(
                "Syncing power states of %s: %d idle instances in the database, %d guests",
                self.host, len(uuids), on_hypervisor,
            )  # fmt: skip
        slots = asyncio.Semaphore(CONCURRENCY)

        async def sync(uuid: str) -> None:
            async with slots:
                try:
                    await self._sync(uuid)
                except Exception:
                    LOG.exception("Power-state sync of %s failed", uuid)

        await asyncio.gather(*(sync(uuid) for uuid in uuids))

    async def _sync(self, uuid: str) -> None:
        if self.locks.busy(uuid):
            LOG.debug("Power-state sync skips %s: work on it is under way", uuid)
            return
        async with self.locks.hold(uuid):
            try:
                async with self.db.read() as session:
                    instance = await instances.get_instance(session, None, uuid)
            except InstanceNotFound:
                return
            if instance.host != self.host or instance.task_state is not None:
                return
            power_state = await get_power_state(self.driver, instance)
            await self._sync_instance_power_state(instance, power_state)

    async def _sync_instance_power_state(self, instance: Instance, power_state: PowerState) -> None:
        """Record the guest's power state, then settle a vm_state that contradicts it."""
        uuid = instance.uuid
        if power_state != instance.power_state:
            LOG.info(
                "Power state of %s is %s on the hypervisor, %s in the database: recording it",
                uuid, power_state.name, PowerState(instance.power_state).name,
            )  # fmt: skip
            try:
                async with self.db.write() as session:
                    await instances.update_instance(
                        session, uuid, {"power_state": power_state}, expected_task_state=[None]
                    )
            except (InstanceNotFound, UnexpectedTaskState):
                return
        rule = _settle(uuid, instance.vm_state, power_state)
        if rule is None:
            return
        LOG.warning(
            "Instance %s is %s but its guest is %s: stopping it",
            uuid, instance.vm_state, power_state.name,
        )  # fmt: skip
        await self._stop(instance, rule)

    async def _stop(self, instance: Instance, rule: states.Transition) -> None:
        ctx = RequestContext.admin_context()
        try:
            async with self.db.write() as session:
                await power_api.begin_stop(session, ctx, instance, rule)
        except (InstanceNotFound, UnexpectedTaskState) as exc:
            LOG.info("Not stopping %s: %s", instance.uuid, exc.format_message())
            return
        await self.power.do_stop_instance(ctx, instance.uuid, clean_shutdown=True)


def _settle(uuid: str, vm_state: str, power_state: PowerState) -> states.Transition | None:
    """How the sync stops an instance whose guest contradicts its vm_state; None: leave it."""
    if vm_state == VmState.ACTIVE:
        if power_state in (PowerState.SHUTDOWN, PowerState.CRASHED, PowerState.SUSPENDED):
            return states.STOP
        if power_state in (PowerState.PAUSED, PowerState.NOSTATE):
            LOG.warning(
                "Instance %s is active, its guest %s: left as it is", uuid, power_state.name
            )
        return None
    if vm_state == VmState.STOPPED and not states.powered_off(power_state):
        return states.FORCE_STOP
    if vm_state == VmState.PAUSED and power_state in (PowerState.SHUTDOWN, PowerState.CRASHED):
        return states.FORCE_STOP
    return None
