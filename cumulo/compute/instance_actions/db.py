"""Instance actions and their events: written by each step of a request, read by the API.

An action is found by (instance uuid, request id), newest first, as Nova's
``InstanceAction`` objects find it: the API, the conductor and the compute
host handling one request all carry its request id in their context. Work
no user asked for (a context without a project, such as a restarted compute
host finishing a task) has a request id of its own; its events join the
instance's latest action and leave that action's ``updated_at`` alone, as
Nova's do.

``updated_at`` of an action moves with every event start and finish, so
``changes-since`` finds actions still in progress.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api import pagination
from cumulo.compute.errors import InstanceActionNotFound
from cumulo.compute.instance_actions.errors import (
    ActionMarkerNotFound,
    InstanceActionEventNotFound,
)
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.instances import InstanceAction, InstanceActionEvent

Result = Literal["Success", "Error"]

_NEWEST_FIRST = [
    pagination.SortKey(InstanceAction.created_at, descending=True),
    pagination.SortKey(InstanceAction.id, descending=True),
]


# --- write side ----------------------------------------------------------------------------


async def action_start(
    session: AsyncSession, ctx: RequestContext, instance_uuid: str, action: str
) -> None:
    """Record that ``ctx``'s request started ``action`` (a name from ``names``) on the instance."""
    await actions_start(session, ctx, [instance_uuid], action)


async def actions_start(
    session: AsyncSession, ctx: RequestContext, instance_uuids: Sequence[str], action: str
) -> None:
    """``action_start`` on each of the instances (a create of many servers)."""
    now = utcnow()
    common = {
        "action": action,
        "request_id": ctx.request_id,
        "user_id": ctx.user_id,
        "project_id": ctx.project_id,
        "start_time": now,
        "updated_at": now,
    }
    rows = [{**common, "instance_uuid": uuid} for uuid in instance_uuids]
    await run(session, _INSERT_ACTION, rows[0] if len(rows) == 1 else rows)


async def action_finish(
    session: AsyncSession, ctx: RequestContext, instance_uuid: str, error: bool = False
) -> InstanceAction:
    """Mark the request's action finished; ``error`` sets its message to "Error"."""
    action_id, _owned = await _action_for_event(session, ctx, instance_uuid)
    action = await session.get(InstanceAction, action_id)
    assert action is not None
    now = utcnow()
    action.finish_time = now
    action.updated_at = now
    if error:
        action.message = "Error"
    await session.flush()
    return action


@dataclass(frozen=True)
class OpenEvent:
    """An event ``event_start`` recorded: what ``finish_event`` needs to close it by id."""

    id: int
    action_id: int
    owned: bool
    """Whether it belongs to the request's own action (whose ``updated_at`` moves with it)."""


async def event_start(
    session: AsyncSession,
    ctx: RequestContext,
    instance_uuid: str,
    event: str,
    host: str | None = None,
) -> OpenEvent:
    """Record that a step (``compute__do_build_and_run_instance``) of the action began."""
    action_id, owned = await _action_for_event(session, ctx, instance_uuid)
    now = utcnow()
    values = {"action_id": action_id, "event": event, "start_time": now, "host": host}
    result = await run(session, _INSERT_EVENT, values)
    if owned:
        await run(session, _TOUCH_ACTION, {"action_id": action_id, "now": now})
    key = result.inserted_primary_key
    assert key is not None
    return OpenEvent(key[0], action_id, owned)


async def event_finish(
    session: AsyncSession,
    ctx: RequestContext,
    instance_uuid: str,
    event: str,
    result: Result = "Success",
    traceback: str | None = None,
    details: str | None = None,
) -> None:
    """Record how a step ended; an "Error" also marks its action's message "Error".

    A step run twice in one action (a build rescheduled to another host)
    has one event per run: the newest unfinished one is the one finishing.
    """
    action_id, owned = await _action_for_event(session, ctx, instance_uuid)
    row = await _open_event(session, action_id, event)
    await finish_event(session, OpenEvent(row.id, action_id, owned), result, traceback, details)


async def finish_event(
    session: AsyncSession,
    started: OpenEvent,
    result: Result = "Success",
    traceback: str | None = None,
    details: str | None = None,
) -> None:
    """``event_finish`` for the event its own ``event_start`` returned: no lookup."""
    now = utcnow()
    event = {"event_id": started.id, "now": now, "result": result}
    await run(session, _FINISH_EVENT, {**event, "traceback": traceback, "details": details})
    if result.lower() == "error":
        action = {"action_id": started.action_id, "now": now, "message": "Error"}
        statement = _FAIL_ACTION if started.owned else _FAIL_ACTION_UNTOUCHED
        await run(session, statement, action)
    elif started.owned:
        await run(session, _TOUCH_ACTION, {"action_id": started.action_id, "now": now})


# Built once: building and keying a statement costs more than running it.
_INSERT_ACTION = Prepared(insert(InstanceAction))
_INSERT_EVENT = Prepared(insert(InstanceActionEvent))
_EVENTS_NAMED = (
    select(InstanceActionEvent)
    .where(
        InstanceActionEvent.action_id == bindparam("action_id"),
        InstanceActionEvent.event == bindparam("event"),
    )
    .order_by(InstanceActionEvent.id.desc())
)
_FINISH_EVENT = Prepared(
    update(InstanceActionEvent)
    .where(InstanceActionEvent.id == bindparam("event_id"))
    .values(
        finish_time=bindparam("now"),
        result=bindparam("result"),
        traceback=bindparam("traceback"),
        details=bindparam("details"),
    )
)
_TOUCH = (
    update(InstanceAction)
    .where(InstanceAction.id == bindparam("action_id"))
    .values(updated_at=bindparam("now"))
)
_TOUCH_ACTION = Prepared(_TOUCH)
_NEWEST_ACTION_ID = Prepared(
    pagination.apply_sort(
        select(InstanceAction.id).where(InstanceAction.instance_uuid == bindparam("instance_uuid")),
        _NEWEST_FIRST,
    ).limit(1)
)
_ACTION_ID_OF_REQUEST = Prepared(
    pagination.apply_sort(
        select(InstanceAction.id).where(
            InstanceAction.instance_uuid == bindparam("instance_uuid"),
            InstanceAction.request_id == bindparam("request_id"),
        ),
        _NEWEST_FIRST,
    ).limit(1)
)
_FAIL_ACTION = Prepared(_TOUCH.values(message=bindparam("message")))
_FAIL_ACTION_UNTOUCHED = Prepared(
    update(InstanceAction)
    .where(InstanceAction.id == bindparam("action_id"))
    .values(message=bindparam("message"))
)


async def _action_for_event(
    session: AsyncSession, ctx: RequestContext, instance_uuid: str
) -> tuple[int, bool]:
    """The id of the action an event belongs to, and whether it is the request's own action.

    Work a service does on its own (a restart finishing a delete, a resumed
    build) carries no request of the action: it belongs to the instance's
    newest action, so recording it never fails the work itself.
    """
    params = {"instance_uuid": instance_uuid, "request_id": ctx.request_id}
    own = (await run(session, _ACTION_ID_OF_REQUEST, params)).scalar()
    if own is not None:
        return own, True
    latest = (await run(session, _NEWEST_ACTION_ID, {"instance_uuid": instance_uuid})).scalar()
    if latest is not None:
        return latest, False
    raise InstanceActionNotFound(request_id=ctx.request_id, instance_uuid=instance_uuid)


async def _open_event(session: AsyncSession, action_id: int, event: str) -> InstanceActionEvent:
    rows = list(await session.scalars(_EVENTS_NAMED, {"action_id": action_id, "event": event}))
    if not rows:
        raise InstanceActionEventNotFound(action_id=action_id, event=event)
    return next((row for row in rows if row.finish_time is None), rows[0])


# --- read side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionPage:
    """Which actions of an instance a list asks for (all of them before 2.58)."""

    limit: int | None = None
    marker: str | None = None
    changes_since: datetime.datetime | None = None
    changes_before: datetime.datetime | None = None


def _of_instance(instance_uuid: str) -> Select[InstanceAction]:
    return select(InstanceAction).where(InstanceAction.instance_uuid == instance_uuid)


async def get_action(
    session: AsyncSession, instance_uuid: str, request_id: str
) -> InstanceAction | None:
    """The newest action of the instance made by ``request_id``, if any."""
    if request_id is None:
        stmt = _of_instance(instance_uuid).where(InstanceAction.request_id.is_(None))
        return await session.scalar(pagination.apply_sort(stmt, _NEWEST_FIRST).limit(1))
    params = {"instance_uuid": instance_uuid, "request_id": request_id}
    return await session.scalar(_get_action_statement(), params)


@functools.cache
def _get_action_statement() -> Select[InstanceAction]:
    """``get_action``'s query, built once."""
    stmt = select(InstanceAction).where(
        InstanceAction.instance_uuid == bindparam("instance_uuid"),
        InstanceAction.request_id == bindparam("request_id"),
    )
    return pagination.apply_sort(stmt, _NEWEST_FIRST).limit(1)


async def list_actions(
    session: AsyncSession, instance_uuid: str, page: ActionPage
) -> list[InstanceAction]:
    """The instance's actions, newest first, filtered by when they last changed."""
    stmt = _of_instance(instance_uuid)
    if page.changes_since is not None:
        stmt = stmt.where(InstanceAction.updated_at >= page.changes_since)
    if page.changes_before is not None:
        stmt = stmt.where(InstanceAction.updated_at <= page.changes_before)
    if page.marker is not None:
        marker = await get_action(session, instance_uuid, page.marker)
        if marker is None:
            raise ActionMarkerNotFound(marker=None)
        stmt = pagination.after_marker(stmt, _NEWEST_FIRST, marker)
    stmt = pagination.apply_sort(stmt, _NEWEST_FIRST)
    if page.limit is not None:
        stmt = stmt.limit(page.limit)
    return list(await session.scalars(stmt))


async def list_events(session: AsyncSession, action_id: int) -> list[InstanceActionEvent]:
    """The action's events as Nova lists them: by creation, newest first."""
    stmt = (
        select(InstanceActionEvent)
        .where(InstanceActionEvent.action_id == action_id)
        .order_by(InstanceActionEvent.created_at.desc(), InstanceActionEvent.id.desc())
    )
    return list(await session.scalars(stmt))
