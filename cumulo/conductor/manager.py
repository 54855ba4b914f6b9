"""The conductor: schedules new instances, sends them to their hosts, reschedules failed builds.

Nova's ``ComputeTaskManager.build_instances`` (and the scheduling part of
``schedule_and_build_instances``). The scheduler claims one host per
instance and names alternates; the conductor records the host on the
instance (only if it is still waiting to be scheduled: a delete may have
come first, and then the claim is given back) and casts the build to it.
A compute host that gives up on a build casts the instance back with its
remaining alternates; the conductor claims the first one with room, or puts
the instance in ERROR when none is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from sqlalchemy import select

from cumulo.compute import instances
from cumulo.compute.errors import InstanceNotFound
from cumulo.compute.instance_actions import db as actions
from cumulo.compute.instances import UnexpectedDeletingTaskState, UnexpectedTaskState
from cumulo.compute.messages import BuildAndRunInstance
from cumulo.compute.rpcapi import ComputeAPI
from cumulo.compute.states import TaskState, VmState
from cumulo.conductor.messages import BuildInstances
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance, RequestSpecRecord
from cumulo.exception import CumuloError
from cumulo.manager import Manager
from cumulo.notifications import notify
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler
from cumulo.runtime import Runtime
from cumulo.scheduler import claims
from cumulo.scheduler.errors import MaxRetriesExceeded, NoValidHost
from cumulo.scheduler.messages import Selection
from cumulo.scheduler.request_spec import RequestSpec
from cumulo.scheduler.rpcapi import SchedulerAPI

LOG = logging.getLogger(__name__)

SCHEDULE_EVENT = "conductor_schedule_and_build_instances"


class ConductorManager(Manager):
    topic = "conductor"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        assert runtime.bus is not None
        self.scheduler = SchedulerAPI(runtime.bus)
        self.compute = ComputeAPI(runtime.bus)
        self.max_attempts = runtime.settings.compute.max_attempts
        self._resuming: asyncio.Task[None] | None = None

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {BuildInstances: self.build_instances}

    async def start(self) -> None:
        """Resume the builds a stopped process left unscheduled, when no broker kept them.

        With the in-memory bus the cast to the conductor died with the process:
        an instance still waiting to be scheduled is built again from its stored
        request spec. With RabbitMQ the unacknowledged cast is redelivered instead.
        """
        assert self.runtime.bus is not None
        if not self.runtime.bus.transport.durable:
            self._resuming = asyncio.create_task(self._resume_unscheduled())

    async def stop(self) -> None:
        if self._resuming is not None and not self._resuming.done():
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resuming

    async def _resume_unscheduled(self) -> None:
        waiting = (
            select(Instance.uuid, Instance.project_id, Instance.user_id, RequestSpecRecord.spec)
            .join(RequestSpecRecord, RequestSpecRecord.instance_uuid == Instance.uuid)
            .where(
                Instance.deleted == 0,
                Instance.vm_state == VmState.BUILDING,
                Instance.task_state == TaskState.SCHEDULING,
                Instance.host.is_(None),
            )
        )
        async with self.runtime.db.read() as session:
            rows = (await session.execute(waiting)).all()
        for uuid, project_id, user_id, stored in rows:
            LOG.info("Resuming the build of %s, left unscheduled by a restart", uuid)
            ctx = RequestContext(user_id=user_id, project_id=project_id, roles=("member",))
            msg = BuildInstances(
                instance_uuids=[uuid],
                request_spec=RequestSpec.model_validate(stored),
                requested_networks=stored.get("requested_networks"),
                security_groups=stored.get("security_groups") or ["default"],
            )
            try:
                await self.build_instances(ctx, msg)
            except Exception:
                LOG.exception("Could not resume the build of %s", uuid)

    async def build_instances(self, ctx: RequestContext, msg: BuildInstances) -> None:
        if msg.host_lists is None:
            await self._schedule_and_build(ctx, msg)
        else:
            await self._reschedule(ctx, msg)

    async def _schedule_and_build(self, ctx: RequestContext, msg: BuildInstances) -> None:
        spec = msg.request_spec
        if spec.force_hosts or spec.force_nodes or self.max_attempts == 1:
            spec = spec.model_copy(update={"num_alternates": 0})
        else:
            spec = spec.model_copy(update={"num_alternates": self.max_attempts - 1})
        try:
            host_lists = await self.scheduler.select_destinations(
                ctx, spec, msg.instance_uuids, return_alternates=spec.num_alternates > 0
            )
        except NoValidHost as exc:
            LOG.info("No valid host for %s: %s", msg.instance_uuids, exc.format_message())
            for uuid in msg.instance_uuids:
                await self._set_vm_state_and_notify(ctx, uuid, exc, SCHEDULE_EVENT)
            return
        for uuid, hosts in zip(msg.instance_uuids, host_lists, strict=True):
            await self._dispatch(ctx, msg, uuid, hosts[0], hosts[1:], attempt=1)

    async def _reschedule(self, ctx: RequestContext, msg: BuildInstances) -> None:
        """Claim the first alternate with room for the one instance a host gave back."""
        assert msg.host_lists is not None
        uuid = msg.instance_uuids[0]
        alternates = list(msg.host_lists[0]) if msg.host_lists else []
        resources = msg.request_spec.resources()
        while alternates and msg.num_attempts < self.max_attempts:
            selection = alternates.pop(0)
            async with self.runtime.db.write() as session:
                claimed = await claims.claim(
                    session,
                    uuid,
                    selection.node_uuid,
                    resources,
                    msg.request_spec.project_id,
                    msg.request_spec.user_id or "",
                )
            if claimed:
                await self._dispatch(
                    ctx, msg, uuid, selection, alternates, attempt=msg.num_attempts + 1
                )
                return
        reason = f"Exhausted all hosts available for retrying build failures for instance {uuid}."
        await self._set_vm_state_and_notify(
            ctx, uuid, MaxRetriesExceeded(reason=reason), "conductor_build_instances"
        )

    async def _dispatch(
        self,
        ctx: RequestContext,
        msg: BuildInstances,
        uuid: str,
        selection: Selection,
        alternates: list[Selection],
        attempt: int,
    ) -> None:
        """Record the chosen host on the instance and cast the build there."""
        try:
            async with self.runtime.db.write() as session:
                await instances.update_instance(
                    session,
                    uuid,
                    {
                        "host": selection.host,
                        "node": selection.nodename,
                        "availability_zone": selection.availability_zone,
                    },
                    expected_task_state=[TaskState.SCHEDULING],
                    expected_vm_state=[VmState.BUILDING],
                )
        except (InstanceNotFound, UnexpectedDeletingTaskState) as exc:
            LOG.info("Instance %s went away before its build was dispatched: %s", uuid, exc)
            async with self.runtime.db.write() as session:
                await claims.release(session, uuid)
            return
        except UnexpectedTaskState as exc:
            # A redelivered message: another delivery dispatched the build already.
            LOG.info("Instance %s is no longer waiting to be scheduled: %s", uuid, exc)
            return
        build = BuildAndRunInstance(
            instance_uuid=uuid,
            node=selection.nodename,
            request_spec=msg.request_spec.model_copy(update={"instance_uuids": [uuid]}),
            requested_networks=msg.requested_networks,
            security_groups=msg.security_groups,
            admin_password=msg.admin_password,
            host_list=alternates,
            num_attempts=attempt,
        )
        await self.compute.build_and_run_instance(ctx, selection.host, build)

    async def _set_vm_state_and_notify(
        self, ctx: RequestContext, uuid: str, exc: CumuloError, event: str
    ) -> None:
        """ERROR with a fault, the claim given back (Nova's ``_bury_in_cell0``)."""
        try:
            async with self.runtime.db.write() as session:
                await instances.update_instance(
                    session,
                    uuid,
                    {"vm_state": VmState.ERROR, "task_state": None, "host": None, "node": None},
                    expected_task_state=[TaskState.SCHEDULING],
                )
                instances.add_fault(session, uuid, exc, host=None)
                await claims.release(session, uuid)
                await actions.event_start(session, ctx, uuid, event)
                await actions.event_finish(session, ctx, uuid, event, result="Error")
                await actions.action_finish(session, ctx, uuid, error=True)
        except CumuloError as lost:
            LOG.info("Instance %s is no longer waiting to be built: %s", uuid, lost)
            return
        await notify(
            self.runtime.bus,
            ctx,
            "nova-conductor",
            "compute_task.build_instances.error",
            {"instance_uuid": uuid, "reason": exc.format_message()},
            priority="ERROR",
        )
