"""How a compute host records its work on an instance: action events, faults, notifications.

``Recorder.event`` is Nova's ``wrap_instance_event``, ``wrap_instance_fault``,
``reverts_task_state`` and ``wrap_exception`` as one visible ``async with``::

    async with recorder.event(ctx, uuid, "compute_stop_instance", reverts=[POWERING_OFF]):
        ...  # the work

The event starts before the work and finishes after it. When the work fails,
the task_state goes back to None (only if it is still one the work set), the
instance gets a fault, the event is marked Error with the traceback, and a
``compute.exception`` notification goes out. When the work lost a race (the
instance was deleted, or another request took its task_state), the event is
marked Error and nothing else is touched: the winner owns the instance.
Neither failure leaves the block: the error is logged and the host carries on.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.compute import instances
from cumulo.compute.errors import InstanceNotFound
from cumulo.compute.instance_actions import db as actions
from cumulo.compute.instances import UnexpectedTaskState
from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.db.models.instances import Instance
from cumulo.exception import CumuloError
from cumulo.notifications import exception_payload, instance_payload, notify
from cumulo.rpc import Bus

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorder:
    db: Database
    bus: Bus | None
    host: str
    publisher: str
    """Who the notifications say they come from (``nova-compute:<host>``)."""

    async def notify(
        self, ctx: RequestContext, event_type: str, instance: Instance, priority: str = "INFO"
    ) -> None:
        await notify(
            self.bus, ctx, self.publisher, event_type, instance_payload(instance), priority
        )

    async def fault(self, uuid: str, exc: BaseException) -> None:
        async with self.db.write() as session:
            instances.add_fault(session, uuid, exc, self.host)

    @asynccontextmanager
    async def event(
        self, ctx: RequestContext, uuid: str, event: str, *, reverts: Collection[str]
    ) -> AsyncIterator[None]:
        """Record ``event`` (``compute_<function>``) around the work of the block."""
        async with self.db.write() as session:
            await actions.event_start(session, ctx, uuid, event, host=self.host)
        try:
            yield
        except (InstanceNotFound, UnexpectedTaskState) as exc:
            LOG.info("%s of %s preempted: %s", event, uuid, exc.format_message())
            async with self.db.write() as session:
                await self._finish(session, ctx, uuid, event, exc)
        except Exception as exc:
            LOG.exception("%s of %s failed", event, uuid)
            # One transaction, so the instance is never seen at rest without its fault.
            async with self.db.write() as session:
                await self._revert_task_state(session, uuid, reverts)
                instances.add_fault(session, uuid, exc, self.host)
                await self._finish(session, ctx, uuid, event, exc)
            function = event.removeprefix("compute_")
            await notify(
                self.bus,
                ctx,
                self.publisher,
                "compute.exception",
                exception_payload(function, exc),
                priority="ERROR",
            )
        else:
            async with self.db.write() as session:
                await actions.event_finish(session, ctx, uuid, event)

    async def _revert_task_state(
        self, session: AsyncSession, uuid: str, reverts: Collection[str]
    ) -> None:
        try:
            await instances.update_instance(
                session, uuid, {"task_state": None}, expected_task_state=reverts
            )
        except (InstanceNotFound, UnexpectedTaskState) as exc:
            LOG.info("Not reverting the task_state of %s: %s", uuid, exc.format_message())

    async def _finish(
        self,
        session: AsyncSession,
        ctx: RequestContext,
        uuid: str,
        event: str,
        exc: BaseException,
    ) -> None:
        # Any other error's text may hold what a user must not see: only its class is shown.
        details = exc.format_message() if isinstance(exc, CumuloError) else type(exc).__name__
        await actions.event_finish(
            session,
            ctx,
            uuid,
            event,
            result="Error",
            traceback="".join(traceback.format_exception(exc)),
            details=details,
        )
