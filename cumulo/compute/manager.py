"""The compute host: builds instances on its hypervisor, and tears them down.

Nova's ``ComputeManager``, with its method names: ``build_and_run_instance``
starts ``_do_build_and_run_instance`` in the background under the
instance's lock; ``_build_and_run_instance`` checks the claim and the
group policy, ``_build_resources`` allocates the network (retried with
exponential backoff) and prepares the block devices, and the driver
spawns. Each step moves task_state with a conditional update on the step
before (``states.BUILD_STEPS``), so a delete arriving mid-build, or the same
message delivered twice, stops the build instead of resurrecting or
doubling it. A failure another host might not have is rescheduled through
the conductor on the remaining alternates; any other is an abort (ERROR with
a fault). Either way this attempt's ports, attachments and claim are given
back.

Stop, start and reboot (``stop_instance``, ``start_instance``,
``reboot_instance``) are done by ``power.py``, the periodic power-state sync
(``_sync_power_states``) by ``power_sync.py``, the reboot of guests whose tap
was deleted under them (``_repair_lost_taps``) by ``tap_repair.py``; every piece
of work on one instance holds that instance's lock (``locks.py``).

One process may run several hosts (``settings.compute.hosts``): each is one
``ComputeManager`` on its own topic ``compute.<host>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select

from cumulo.compute import instances, teardown
from cumulo.compute.block_device_info import prep_block_device
from cumulo.compute.errors import BuildAbortException, InstanceNotFound, RescheduledException
from cumulo.compute.group_policy import validate_instance_group_policy
from cumulo.compute.instance_actions import db as actions
from cumulo.compute.instances import UnexpectedDeletingTaskState, UnexpectedTaskState
from cumulo.compute.locks import InstanceLocks
from cumulo.compute.messages import (
    BuildAndRunInstance,
    ConsoleOutput,
    GetConsoleOutput,
    RebootInstance,
    StartInstance,
    StopInstance,
    TerminateInstance,
)
from cumulo.compute.power import PowerActions
from cumulo.compute.power_sync import PowerStateSync
from cumulo.compute.reaper import reap_deleted_guests
from cumulo.compute.recorder import Recorder
from cumulo.compute.resource_tracker import ResourceTracker
from cumulo.compute.states import TaskState, VmState
from cumulo.compute.tap_repair import TapRepair
from cumulo.conductor.messages import BuildInstances
from cumulo.conductor.rpcapi import ConductorAPI
from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.instances import (
    BlockDeviceMapping,
    Instance,
)
from cumulo.exception import CumuloError
from cumulo.image.messages import ImageMeta
from cumulo.image.rpcapi import ImageAPI
from cumulo.manager import Manager
from cumulo.network.agent.data_plane import DataPlane
from cumulo.network.messages import InstanceRef
from cumulo.network.model import NetworkInfo
from cumulo.network.rpcapi import NetworkAPI
from cumulo.notifications import notify
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler
from cumulo.runtime import Runtime
from cumulo.scheduler import claims
from cumulo.virt.driver import BlockDeviceInfo, ComputeDriver, load_driver
from cumulo.virt.errors import FatalVirtError
from cumulo.volume.rpcapi import VolumeAPI

LOG = logging.getLogger(__name__)

BUILD_EVENT = "compute__do_build_and_run_instance"
TERMINATE_EVENT = "compute_terminate_instance"


@dataclass(frozen=True)
class _Build:
    """What the build's first transaction found: its open event, the instance, and
    whether the scheduler's claim is on this host."""

    started: actions.OpenEvent
    instance: Instance
    claim_held: bool


class ComputeManager(Manager):
    def __init__(self, runtime: Runtime, host: str) -> None:
        super().__init__(runtime)
        assert runtime.bus is not None
        self.host = host
        self.topic = f"compute.{host}"
        self.publisher = f"nova-compute:{host}"
        self.driver: ComputeDriver = load_driver(runtime.settings, host)
        self.tracker = ResourceTracker(runtime.db, runtime.settings, host, self.driver)
        self.network_api = NetworkAPI(runtime.bus)
        self.volume_api = VolumeAPI(runtime.bus)
        self.image_api = ImageAPI(runtime.bus)
        self.driver.image_api = self.image_api
        self.data_plane = DataPlane.of(runtime) if _wants_data_plane(runtime.settings) else None
        self.driver.vif_driver = self.data_plane
        self.conductor = ConductorAPI(runtime.bus)
        self.locks = InstanceLocks()
        self.recorder = Recorder(runtime.db, runtime.bus, host, self.publisher)
        self.power = PowerActions(self.recorder, self.driver, self.locks, self.network_api)
        self.power_sync = PowerStateSync(runtime.db, host, self.driver, self.locks, self.power)
        self.tap_repair = (
            TapRepair(runtime.db, host, self.data_plane, self.locks, self.power)
            if self.data_plane is not None and self.driver.guests_hold_taps
            else None
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._periodic: list[asyncio.Task[None]] = []

    @classmethod
    def for_process(cls, runtime: Runtime) -> list[Manager]:
        return [cls(runtime, host) for host in runtime.settings.compute_hosts]

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {
            BuildAndRunInstance: self.build_and_run_instance,
            TerminateInstance: self.terminate_instance,
            StopInstance: self.stop_instance,
            StartInstance: self.start_instance,
            RebootInstance: self.reboot_instance,
            GetConsoleOutput: self.get_console_output,
        }

    # --- service life ------------------------------------------------------------------

    async def start(self) -> None:
        await self.driver.init_host()
        if self.data_plane is not None:
            await self.data_plane.start()
        await self.tracker.register()
        await self._init_instances()
        compute = self.runtime.settings.compute
        self._every(compute.report_interval, self.tracker.heartbeat, first_after=True)
        if compute.sync_power_state_interval > 0:
            self._every(compute.sync_power_state_interval, self._sync_power_states)
        if self.tap_repair is not None and compute.lost_tap_check_interval > 0:
            self._every(compute.lost_tap_check_interval, self._repair_lost_taps)
        reap = compute.running_deleted_instance_action
        if compute.running_deleted_instance_poll_interval > 0 and reap != "noop":
            self._every(
                compute.running_deleted_instance_poll_interval,
                self._cleanup_running_deleted_instances,
            )

    async def stop(self) -> None:
        for periodic in self._periodic:
            periodic.cancel()
        for periodic in self._periodic:
            with contextlib.suppress(asyncio.CancelledError):
                await periodic
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        for task in tasks:
            task.cancel()
        if self.data_plane is not None:
            await self.data_plane.stop()

    def _every(
        self, interval: float, job: Callable[[], Awaitable[None]], *, first_after: bool = False
    ) -> None:
        """Run ``job`` every ``interval`` seconds (Nova's periodic tasks), at once unless
        ``first_after``; a failure is logged and the next round comes all the same."""

        async def loop() -> None:
            if first_after:
                await asyncio.sleep(interval)
            while True:
                try:
                    await job()
                except Exception:
                    LOG.exception("Periodic %s of %s failed", job.__name__, self.host)
                await asyncio.sleep(interval)

        self._periodic.append(asyncio.create_task(loop()))

    async def _init_instances(self) -> None:
        """Settle what a stopped process left on this host (Nova's ``_init_instance``).

        A build cannot resume halfway: it goes to ERROR with its claim and
        ports given back. A delete that was under way is finished, and so is a
        stop, start or reboot (``PowerActions.resume``).
        """
        ctx = RequestContext(roles=("admin",))
        async with self.runtime.db.read() as session:
            rows = (
                await session.execute(
                    select(Instance.uuid, Instance.vm_state, Instance.task_state).where(
                        Instance.host == self.host, Instance.deleted == 0
                    )
                )
            ).all()
        for uuid, vm_state, task_state in rows:
            if task_state == TaskState.DELETING:
                await self._shutdown_and_delete(ctx, uuid)
            elif vm_state == VmState.BUILDING:
                reason = "the compute service restarted during the build"
                await self._abort(ctx, uuid, BuildAbortException(instance_uuid=uuid, reason=reason))
            elif task_state is not None:
                await self.power.resume(ctx, uuid)

    # --- build -------------------------------------------------------------------------

    async def build_and_run_instance(self, ctx: RequestContext, msg: BuildAndRunInstance) -> None:
        task = asyncio.create_task(self._locked_do_build_and_run_instance(ctx, msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _locked_do_build_and_run_instance(
        self, ctx: RequestContext, msg: BuildAndRunInstance
    ) -> None:
        async with self.locks.hold(msg.instance_uuid):
            try:
                await self._do_build_and_run_instance(ctx, msg)
            except Exception:
                LOG.exception("Build of %s failed unexpectedly", msg.instance_uuid)

    async def _do_build_and_run_instance(
        self, ctx: RequestContext, msg: BuildAndRunInstance
    ) -> None:
        uuid = msg.instance_uuid
        try:
            async with self.runtime.db.write() as session:
                await instances.update_instance(
                    session,
                    uuid,
                    {"task_state": None},
                    expected_task_state=[TaskState.SCHEDULING],
                    expected_vm_state=[VmState.BUILDING],
                )
                started = await actions.event_start(session, ctx, uuid, BUILD_EVENT, host=self.host)
                instance = await instances.get_instance(session, None, uuid)
                held = await self.tracker.claim_is_held(session, uuid)
        except (InstanceNotFound, UnexpectedTaskState) as exc:
            LOG.info("Not building %s: %s", uuid, exc.format_message())
            return
        try:
            await self._build_and_run_instance(ctx, msg, _Build(started, instance, held))
        except RescheduledException as exc:
            LOG.info("%s", exc.format_message())
            await self._reschedule(ctx, msg, exc)
        except (InstanceNotFound, UnexpectedDeletingTaskState):
            LOG.info("Instance %s was deleted during its build", uuid)
            await self._cleanup_deleted_build(ctx, uuid)
        except BuildAbortException as exc:
            LOG.info("%s", exc.format_message())
            await self._abort(ctx, uuid, exc)
        except Exception as exc:
            LOG.exception("Unexpected failure building %s", uuid)
            await self._abort(ctx, uuid, exc)

    async def _build_and_run_instance(
        self, ctx: RequestContext, msg: BuildAndRunInstance, build: _Build
    ) -> None:
        uuid = msg.instance_uuid
        instance, started = build.instance, build.started
        await self.recorder.notify(ctx, "instance.create.start", instance)
        if not build.claim_held:
            raise RescheduledException(
                instance_uuid=uuid, reason=f"no resources are claimed on {self.host}"
            )
        await validate_instance_group_policy(self.runtime.db, self.host, uuid, msg.request_spec)
        image_meta = await self._image_meta(ctx, msg, instance)
        network_info, block_device_info = await self._build_resources(ctx, msg, instance)
        async with self.runtime.db.write() as session:
            await instances.update_instance(
                session,
                uuid,
                {"task_state": TaskState.SPAWNING},
                expected_task_state=[TaskState.BLOCK_DEVICE_MAPPING],
            )
        try:
            await self.driver.spawn(
                ctx, instance, image_meta, msg.admin_password, network_info, block_device_info
            )
        except FatalVirtError as exc:
            raise BuildAbortException(instance_uuid=uuid, reason=exc.format_message()) from exc
        except CumuloError as exc:
            raise RescheduledException(instance_uuid=uuid, reason=exc.format_message()) from exc
        info = await self.driver.get_info(instance)
        try:
            async with self.runtime.db.write() as session:
                await instances.update_instance(
                    session,
                    uuid,
                    {
                        "vm_state": VmState.ACTIVE,
                        "task_state": None,
                        "power_state": info.state,
                        "launched_at": utcnow(),
                    },
                    expected_task_state=[TaskState.SPAWNING],
                )
                await self.tracker.build_succeeded(session)
                await actions.finish_event(session, started)
        except CumuloError:
            await self.driver.destroy(ctx, instance, network_info, block_device_info)
            raise
        instance.vm_state, instance.power_state = VmState.ACTIVE, info.state
        await self.recorder.notify(ctx, "instance.create.end", instance)

    async def _image_meta(
        self, ctx: RequestContext, msg: BuildAndRunInstance, instance: Instance
    ) -> ImageMeta | None:
        """The request spec's image; asked of the image service only for a spec written
        before the spec carried it."""
        if not instance.image_ref:
            return None
        if msg.request_spec.image is not None:
            return msg.request_spec.image
        try:
            return await self.image_api.get(ctx, instance.image_ref)
        except CumuloError as exc:
            raise BuildAbortException(
                instance_uuid=instance.uuid, reason=exc.format_message()
            ) from exc

    async def _build_resources(
        self, ctx: RequestContext, msg: BuildAndRunInstance, instance: Instance
    ) -> tuple[NetworkInfo, BlockDeviceInfo]:
        uuid = instance.uuid
        async with self.runtime.db.write() as session:
            await instances.update_instance(
                session, uuid, {"task_state": TaskState.NETWORKING}, expected_task_state=[None]
            )
        network_info = await self._allocate_network(ctx, msg, instance)
        async with self.runtime.db.write() as session:
            await instances.update_instance(
                session,
                uuid,
                {
                    "task_state": TaskState.BLOCK_DEVICE_MAPPING,
                    "network_info": [vif.model_dump(mode="json") for vif in network_info.vifs],
                },
                expected_task_state=[TaskState.NETWORKING],
            )
        try:
            block_device_info = await self._prep_block_device(ctx, instance)
        except CumuloError as exc:
            if isinstance(exc, InstanceNotFound | UnexpectedDeletingTaskState):
                raise
            LOG.warning("Failure prepping block devices of %s: %s", uuid, exc)
            raise BuildAbortException(
                instance_uuid=uuid, reason="Failure prepping block device."
            ) from exc
        return network_info, block_device_info

    async def _allocate_network(
        self, ctx: RequestContext, msg: BuildAndRunInstance, instance: Instance
    ) -> NetworkInfo:
        """Allocate the ports, retrying with exponential backoff (Nova's ``_allocate_network``)."""
        compute = self.runtime.settings.compute
        attempts = compute.network_allocate_retries + 1
        delay = 1.0
        ref = InstanceRef(
            uuid=instance.uuid,
            project_id=instance.project_id,
            availability_zone=instance.availability_zone or compute.default_availability_zone,
        )
        for attempt in range(1, attempts + 1):
            try:
                return await self.network_api.allocate_for_instance(
                    ctx,
                    ref,
                    msg.requested_networks,
                    security_groups=msg.security_groups,
                    bind_host_id=self.host,
                )
            except CumuloError as exc:
                if attempt == attempts:
                    LOG.warning("Instance %s failed network setup: %s", instance.uuid, exc)
                    raise BuildAbortException(
                        instance_uuid=instance.uuid,
                        reason="Failed to allocate the network(s), not rescheduling.",
                    ) from exc
                LOG.info(
                    "Network allocation of %s failed (attempt %d of %d), retrying in %.1fs: %s",
                    instance.uuid, attempt, attempts, delay, exc.format_message(),
                )  # fmt: skip
                await asyncio.sleep(min(delay, compute.network_allocate_backoff_cap))
                delay *= 2
        raise AssertionError("unreachable")

    async def _prep_block_device(self, ctx: RequestContext, instance: Instance) -> BlockDeviceInfo:
        return await prep_block_device(self.runtime.db, self.volume_api, ctx, instance, self.host)

    # --- when a build fails ------------------------------------------------------------

    async def _attempt_volumes(self, uuid: str) -> list[str]:
        """Volumes the build made itself (from an image or blank): a reschedule deletes them."""
        async with self.runtime.db.read() as session:
            return [
                v
                for v in await session.scalars(
                    select(BlockDeviceMapping.volume_id).where(
                        BlockDeviceMapping.instance_uuid == uuid,
                        BlockDeviceMapping.deleted == 0,
                        BlockDeviceMapping.source_type.in_(("image", "blank")),
                        BlockDeviceMapping.volume_id.is_not(None),
                    )
                )
                if v
            ]

    async def _release_resources(
        self, ctx: RequestContext, uuid: str, delete_volumes: list[str] | None
    ) -> None:
        """Give back this attempt's ports, attachments (and volumes) and destroy any guest.

        A guest that cannot be destroyed is logged and left to the reaper: what it held is
        given back all the same, so the server still ends rescheduled or in ERROR.
        """
        with contextlib.suppress(InstanceNotFound):
            async with self.runtime.db.read() as session:
                instance = await instances.get_instance(session, None, uuid, read_deleted=True)
            network_info = NetworkInfo()
            if self.data_plane is not None:  # the NICs to unplug; the fake driver has none
                admin = RequestContext.admin_context(ctx.request_id)
                network_info = await self.network_api.get_instance_nw_info(admin, uuid)
            try:
                await self.driver.destroy(ctx, instance, network_info)
            except Exception:
                LOG.exception("Destroying the guest of failed build %s failed", uuid)
        await teardown.cleanup_allocated_networks(self.runtime.db, self.network_api, ctx, uuid)
        await teardown.cleanup_volumes(
            self.runtime.db, self.volume_api, ctx, uuid, delete=delete_volumes
        )

    async def _reschedule(
        self, ctx: RequestContext, msg: BuildAndRunInstance, exc: RescheduledException
    ) -> None:
        uuid = msg.instance_uuid
        await self._release_resources(ctx, uuid, await self._attempt_volumes(uuid))
        try:
            async with self.runtime.db.write() as session:
                await instances.update_instance(
                    session,
                    uuid,
                    {"host": None, "node": None, "task_state": TaskState.SCHEDULING},
                    expected_vm_state=[VmState.BUILDING],
                    expected_task_state=[
                        None,
                        TaskState.NETWORKING,
                        TaskState.BLOCK_DEVICE_MAPPING,
                        TaskState.SPAWNING,
                    ],
                )
                await claims.release(session, uuid)
                await self.tracker.build_failed(session)
                await actions.event_finish(session, ctx, uuid, BUILD_EVENT, result="Error")
        except (InstanceNotFound, UnexpectedTaskState):
            await self._cleanup_deleted_build(ctx, uuid)
            return
        await self.conductor.build_instances(
            ctx,
            BuildInstances(
                instance_uuids=[uuid],
                request_spec=msg.request_spec,
                requested_networks=msg.requested_networks,
                security_groups=msg.security_groups,
                admin_password=msg.admin_password,
                host_lists=[msg.host_list],
                num_attempts=msg.num_attempts,
                reason=exc.format_message(),
            ),
        )

    async def _abort(self, ctx: RequestContext, uuid: str, exc: BaseException) -> None:
        """ERROR with a fault; ports, attachments, delete-on-termination volumes, claim released."""
        await self._release_resources(ctx, uuid, None)
        try:
            async with self.runtime.db.write() as session:
                await instances.update_instance(
                    session,
                    uuid,
                    {"vm_state": VmState.ERROR, "task_state": None, "host": None, "node": None},
                    expected_task_state=[
                        None,
                        TaskState.SCHEDULING,
                        TaskState.NETWORKING,
                        TaskState.BLOCK_DEVICE_MAPPING,
                        TaskState.SPAWNING,
                    ],
                )
                instances.add_fault(session, uuid, exc, self.host)
                await claims.release(session, uuid)
                await self.tracker.build_failed(session)
                await actions.event_finish(session, ctx, uuid, BUILD_EVENT, result="Error")
                await actions.action_finish(session, ctx, uuid, error=True)
        except (InstanceNotFound, UnexpectedTaskState):
            await self._cleanup_deleted_build(ctx, uuid)
            return
        await notify(
            self.runtime.bus,
            ctx,
            self.publisher,
            "instance.create.error",
            {"instance_uuid": uuid, "reason": str(exc)},
            priority="ERROR",
        )

    async def _cleanup_deleted_build(self, ctx: RequestContext, uuid: str) -> None:
        """The instance was deleted mid-build: undo this build; the delete finishes the rest."""
        await self._release_resources(ctx, uuid, None)
        async with self.runtime.db.write() as session:
            await claims.release(session, uuid)

    # --- delete ------------------------------------------------------------------------

    async def terminate_instance(self, ctx: RequestContext, msg: TerminateInstance) -> None:
        async with self.locks.hold(msg.instance_uuid):
            await self._shutdown_and_delete(ctx, msg.instance_uuid)

    async def _shutdown_and_delete(self, ctx: RequestContext, uuid: str) -> None:
        """Nova's ``_shutdown_instance`` and ``_complete_deletion``; safe to repeat."""
        async with self.runtime.db.write() as session:
            try:
                instance = await instances.get_instance(session, None, uuid)
            except InstanceNotFound:
                return
            await actions.event_start(session, ctx, uuid, TERMINATE_EVENT, host=self.host)
        await self.recorder.notify(ctx, "instance.delete.start", instance)
        await self._release_resources(ctx, uuid, None)
        async with self.runtime.db.write() as session:
            await actions.event_finish(session, ctx, uuid, TERMINATE_EVENT)
        await teardown.finish_delete(self.runtime.db, ctx, uuid)
        await self.recorder.notify(ctx, "instance.delete.end", instance)

    # --- power (power.py, power_sync.py) -----------------------------------------------

    async def stop_instance(self, ctx: RequestContext, msg: StopInstance) -> None:
        await self.power.stop_instance(ctx, msg)

    async def start_instance(self, ctx: RequestContext, msg: StartInstance) -> None:
        await self.power.start_instance(ctx, msg)

    async def reboot_instance(self, ctx: RequestContext, msg: RebootInstance) -> None:
        await self.power.reboot_instance(ctx, msg)

    async def _sync_power_states(self) -> None:
        """Bring the database in line with the guests' power states (one round)."""
        await self.power_sync.sync_power_states()

    async def _repair_lost_taps(self) -> None:
        """Reboot hard the running guests whose NIC's tap was deleted under them (one round)."""
        assert self.tap_repair is not None
        await self.tap_repair.repair_lost_taps()

    async def _cleanup_running_deleted_instances(self) -> None:
        """Destroy (or report) the guests of servers deleted behind this host's back."""
        await reap_deleted_guests(
            self.runtime.db,
            self.driver,
            self.host,
            self.runtime.settings.compute.running_deleted_instance_action,
        )

    # --- other calls -------------------------------------------------------------------

    async def get_console_output(self, ctx: RequestContext, msg: GetConsoleOutput) -> ConsoleOutput:
        async with self.runtime.db.read() as session:
            instance = await instances.get_instance(session, None, msg.instance_uuid)
        output = await self.driver.get_console_output(ctx, instance)
        if msg.length is not None:
            lines = output.splitlines(keepends=True)
            output = "".join(lines[-msg.length :]) if msg.length else ""
        return ConsoleOutput(output=output)


def _wants_data_plane(settings: Settings) -> bool:
    """Whether guests' NICs get a data path here (``[network] data_plane``; by default
    with a driver that runs real guests)."""
    if settings.network.data_plane is not None:
        return settings.network.data_plane
    return settings.compute.driver == "libvirt"
