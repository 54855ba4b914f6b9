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

One process may run several hosts (``settings.compute.hosts``): each is one
``ComputeManager`` on its own topic ``compute.<host>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import select

from cumulo.compute import instances, teardown
from cumulo.compute.errors import BuildAbortException, InstanceNotFound, RescheduledException
from cumulo.compute.instance_actions import db as actions
from cumulo.compute.instances import UnexpectedDeletingTaskState, UnexpectedTaskState
from cumulo.compute.messages import (
    BuildAndRunInstance,
    ConsoleOutput,
    GetConsoleOutput,
    TerminateInstance,
)
from cumulo.compute.resource_tracker import ResourceTracker
from cumulo.compute.states import PowerState, TaskState, VmState
from cumulo.conductor.messages import BuildInstances
from cumulo.conductor.rpcapi import ConductorAPI
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.instances import (
    BlockDeviceMapping,
    Instance,
    ServerGroup,
    ServerGroupMember,
)
from cumulo.exception import CumuloError
from cumulo.image.messages import ImageMeta
from cumulo.image.rpcapi import ImageAPI
from cumulo.manager import Manager
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
VOLUME_POLL_SECONDS = 0.05
VOLUME_WAIT_SECONDS = 180.0


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
        self.conductor = ConductorAPI(runtime.bus)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()
        self._periodic: asyncio.Task[None] | None = None

    @classmethod
    def for_process(cls, runtime: Runtime) -> list[Manager]:
        return [cls(runtime, host) for host in runtime.settings.compute_hosts]

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {
            BuildAndRunInstance: self.build_and_run_instance,
            TerminateInstance: self.terminate_instance,
            GetConsoleOutput: self.get_console_output,
        }

    # --- service life ------------------------------------------------------------------

    async def start(self) -> None:
        await self.driver.init_host()
        await self.tracker.register()
        await self._init_instances()
        self._periodic = asyncio.create_task(self._report_periodically())

    async def stop(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._periodic
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        for task in tasks:
            task.cancel()

    async def _report_periodically(self) -> None:
        interval = self.runtime.settings.compute.report_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tracker.heartbeat()
            except Exception:
                LOG.exception("Heartbeat of %s failed", self.host)

    async def _init_instances(self) -> None:
        """Settle what a stopped process left on this host (Nova's ``_init_instance``).

        A build cannot resume halfway: it goes to ERROR with its claim and
        ports given back. A delete that was under way is finished.
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

    # --- build -------------------------------------------------------------------------

    async def build_and_run_instance(self, ctx: RequestContext, msg: BuildAndRunInstance) -> None:
        task = asyncio.create_task(self._locked_do_build_and_run_instance(ctx, msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _locked_do_build_and_run_instance(
        self, ctx: RequestContext, msg: BuildAndRunInstance
    ) -> None:
        async with self._locks[msg.instance_uuid]:
            try:
                await self._do_build_and_run_instance(ctx, msg)
            except Exception:
                LOG.exception("Build of %s failed unexpectedly", msg.instance_uuid)
        self._forget_lock(msg.instance_uuid)

    def _forget_lock(self, uuid: str) -> None:
        lock = self._locks.get(uuid)
        if lock is not None and not lock.locked():
            del self._locks[uuid]

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
                await actions.event_start(session, ctx, uuid, BUILD_EVENT, host=self.host)
        except (InstanceNotFound, UnexpectedTaskState) as exc:
            LOG.info("Not building %s: %s", uuid, exc.format_message())
            return
        try:
            await self._build_and_run_instance(ctx, msg)
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

    async def _build_and_run_instance(self, ctx: RequestContext, msg: BuildAndRunInstance) -> None:
        uuid = msg.instance_uuid
        async with self.runtime.db.read() as session:
            instance = await instances.get_instance(session, None, uuid)
            held = await self.tracker.claim_is_held(session, uuid)
        await notify(
            self.runtime.bus, ctx, self.publisher, "instance.create.start", _payload(instance)
        )
        if not held:
            raise RescheduledException(
                instance_uuid=uuid, reason=f"no resources are claimed on {self.host}"
            )
        await self._validate_instance_group_policy(uuid)
        image_meta = await self._image_meta(ctx, instance)
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
                await actions.event_finish(session, ctx, uuid, BUILD_EVENT)
        except CumuloError:
            await self.driver.destroy(ctx, instance, network_info, block_device_info)
            raise
        instance.vm_state, instance.power_state = VmState.ACTIVE, info.state
        await notify(
            self.runtime.bus, ctx, self.publisher, "instance.create.end", _payload(instance)
        )

    async def _validate_instance_group_policy(self, uuid: str) -> None:
        """The late check of the group's (anti-)affinity, against where its members landed."""
        async with self.runtime.db.read() as session:
            group = await session.scalar(
                select(ServerGroup)
                .join(ServerGroupMember, ServerGroupMember.group_id == ServerGroup.id)
                .where(ServerGroupMember.instance_uuid == uuid)
            )
            if group is None or group.policy not in ("affinity", "anti-affinity"):
                return
            members = [m.instance_uuid for m in group.members if m.instance_uuid != uuid]
            hosts = list(
                await session.scalars(
                    select(Instance.host).where(
                        Instance.uuid.in_(members),
                        Instance.deleted == 0,
                        Instance.host.is_not(None),
                    )
                )
            )
        if group.policy == "anti-affinity":
            limit = int(group.rules.get("max_server_per_host", 1))
            if hosts.count(self.host) >= limit:
                reason = "Anti-affinity instance group policy was violated."
                raise RescheduledException(instance_uuid=uuid, reason=reason)
        elif any(h != self.host for h in hosts):
            reason = "Affinity instance group policy was violated."
            raise RescheduledException(instance_uuid=uuid, reason=reason)

    async def _image_meta(self, ctx: RequestContext, instance: Instance) -> ImageMeta | None:
        if not instance.image_ref:
            return None
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
        """Create the volumes the mappings ask for, attach every volume to this host."""
        async with self.runtime.db.read() as session:
            bdms = list(
                await session.scalars(
                    select(BlockDeviceMapping)
                    .where(
                        BlockDeviceMapping.instance_uuid == instance.uuid,
                        BlockDeviceMapping.deleted == 0,
                        BlockDeviceMapping.destination_type == "volume",
                    )
                    .order_by(BlockDeviceMapping.id)
                )
            )
        info = BlockDeviceInfo()
        connector = {"host": self.host, "initiator": None, "platform": "x86_64", "os_type": "linux"}
        for bdm in bdms:
            volume_id = bdm.volume_id
            if volume_id is None:
                volume = await self.volume_api.create(
                    ctx,
                    bdm.volume_size or 1,
                    image_id=bdm.image_id if bdm.source_type == "image" else None,
                    volume_type=bdm.volume_type,
                    availability_zone=instance.availability_zone,
                )
                volume_id = volume.id
                await self._record_bdm(bdm.id, volume_id=volume_id)
                await self._await_volume_available(ctx, volume_id)
            attachment = await self.volume_api.attachment_create(
                ctx, volume_id, instance.uuid, connector
            )
            await self.volume_api.attachment_complete(ctx, attachment.id)
            device = bdm.device_name or _device_name(len(info.block_device_mapping))
            await self._record_bdm(
                bdm.id,
                attachment_id=attachment.id,
                connection_info=attachment.connection_info,
                device_name=device,
            )
            info.block_device_mapping.append(
                {
                    "connection_info": attachment.connection_info,
                    "mount_device": device,
                    "boot_index": bdm.boot_index,
                    "delete_on_termination": bdm.delete_on_termination,
                }
            )
            if bdm.boot_index == 0:
                info.root_device_name = device
        return info

    async def _record_bdm(self, bdm_id: int, **values: object) -> None:
        async with self.runtime.db.write() as session:
            bdm = await session.get(BlockDeviceMapping, bdm_id)
            if bdm is not None:
                for key, value in values.items():
                    setattr(bdm, key, value)

    async def _await_volume_available(self, ctx: RequestContext, volume_id: str) -> None:
        async with asyncio.timeout(VOLUME_WAIT_SECONDS):
            while True:
                volume = await self.volume_api.get(ctx, volume_id)
                if volume.status == "available":
                    return
                if volume.status not in ("creating", "downloading"):
                    raise CumuloError(f"volume {volume_id} is {volume.status}")
                await asyncio.sleep(VOLUME_POLL_SECONDS)

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
        """Give back this attempt's ports, attachments (and volumes) and destroy any guest."""
        with contextlib.suppress(InstanceNotFound):
            async with self.runtime.db.read() as session:
                instance = await instances.get_instance(session, None, uuid, read_deleted=True)
            await self.driver.destroy(ctx, instance, NetworkInfo())
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
        async with self._locks[msg.instance_uuid]:
            await self._shutdown_and_delete(ctx, msg.instance_uuid)
        self._forget_lock(msg.instance_uuid)

    async def _shutdown_and_delete(self, ctx: RequestContext, uuid: str) -> None:
        """Nova's ``_shutdown_instance`` and ``_complete_deletion``; safe to repeat."""
        async with self.runtime.db.write() as session:
            try:
                instance = await instances.get_instance(session, None, uuid)
            except InstanceNotFound:
                return
            await actions.event_start(session, ctx, uuid, TERMINATE_EVENT, host=self.host)
        await notify(
            self.runtime.bus, ctx, self.publisher, "instance.delete.start", _payload(instance)
        )
        await self._release_resources(ctx, uuid, None)
        async with self.runtime.db.write() as session:
            await actions.event_finish(session, ctx, uuid, TERMINATE_EVENT)
        await teardown.finish_delete(self.runtime.db, ctx, uuid)
        await notify(
            self.runtime.bus, ctx, self.publisher, "instance.delete.end", _payload(instance)
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


def _device_name(index: int) -> str:
    return "/dev/vd" + chr(ord("a") + index)


def _payload(instance: Instance) -> dict[str, object]:
    return {
        "uuid": instance.uuid,
        "display_name": instance.display_name,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "host": instance.host,
        "node": instance.node,
        "state": instance.vm_state,
        "power_state": PowerState(instance.power_state).name.lower(),
        "flavor": instance.flavor,
        "image_uuid": instance.image_ref,
    }
