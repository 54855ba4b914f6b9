"""``/servers/{server_id}/os-instance-actions``: what was done to a server, and each step of it.

Actions are listed newest first. From 2.21 a deleted server's actions stay
visible; from 2.58 lists page (``limit``/``marker`` = a request id) and
filter on ``changes-since`` (2.66: ``changes-before``) against ``updated_at``.
An action's events show to admins with tracebacks, to others from 2.51
without; 2.62 adds ``hostId`` (and ``host`` for admins), 2.84 ``details``.
"""

from __future__ import annotations

import datetime
from typing import Any

from fastapi import Depends
from starlette.requests import Request

from cumulo import exception
from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.microversion import APIVersion
from cumulo.compute import errors, http, instances, query
from cumulo.compute.http import Route
from cumulo.compute.instance_actions import db, views
from cumulo.compute.instance_actions.views import EventFields
from cumulo.compute.validation import fail
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance, InstanceAction

V2_21 = APIVersion.parse("2.21")
V2_51 = APIVersion.parse("2.51")
V2_58 = APIVersion.parse("2.58")
V2_62 = APIVersion.parse("2.62")
V2_66 = APIVersion.parse("2.66")
V2_84 = APIVersion.parse("2.84")


def parse_time(value: str) -> datetime.datetime:
    """An ISO 8601 time as naive UTC, as Nova normalises ``changes-since``."""
    when = datetime.datetime.fromisoformat(value)
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    return when


def _date_time(value: str) -> None:
    try:
        parse_time(value)
    except ValueError:
        fail(f"{value!r} is not a 'date-time'")


_LIST_QUERY: dict[str, query.Check] = {
    "limit": query.non_negative_integer,
    "marker": query.any_string,
    "changes-since": _date_time,
}
_LIST_QUERY_V266: dict[str, query.Check] = {**_LIST_QUERY, "changes-before": _date_time}


def _list_params(request: Request, version: APIVersion) -> query.Params:
    """The 2.58+ query: known parameters, each given once; anything else is a 400."""
    schema = _LIST_QUERY_V266 if version >= V2_66 else _LIST_QUERY
    return query.validate_single_valued(request, schema)


def _page(request: Request, params: query.Params) -> db.ActionPage:
    since, before = query.last(params, "changes-since"), query.last(params, "changes-before")
    page = db.ActionPage(
        limit=http.limit_or_max(request, params),
        marker=query.last(params, "marker"),
        changes_since=parse_time(since) if since else None,
        changes_before=parse_time(before) if before else None,
    )
    if page.changes_since and page.changes_before and page.changes_before < page.changes_since:
        raise exception.Invalid(
            "The value of changes-since must be less than or equal to changes-before."
        )
    return page


async def _instance(
    request: Request, ctx: RequestContext, server_id: str, version: APIVersion
) -> Instance:
    async with http.db(request).read() as session:
        return await instances.get_instance(session, ctx, server_id, read_deleted=version >= V2_21)


async def index(
    request: Request, server_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    version = http.version(request)
    paged = version >= V2_58
    params = _list_params(request, version) if paged else {}
    instance = await _instance(request, ctx, server_id, version)
    policy.enforce(ctx, "compute:instance_actions:list", {"project_id": instance.project_id})
    page = _page(request, params) if paged else db.ActionPage()
    async with http.db(request).read() as session:
        actions = await db.list_actions(session, instance.uuid, page)
    body: dict[str, Any] = {"instanceActions": [views.action(a, version) for a in actions]}
    if paged:
        collection = f"servers/{server_id}/os-instance-actions"
        links = http.collection_links(request, collection, actions, params, _request_id)
        if links:
            body["links"] = links
    return JSON(body)


def _request_id(action: InstanceAction) -> str:
    return action.request_id


def _event_fields(
    ctx: RequestContext, instance: Instance, version: APIVersion
) -> EventFields | None:
    """What of the events the caller sees; None: no events at all (non-admins before 2.51)."""
    target = {"project_id": instance.project_id}
    if policy.check(ctx, "compute:instance_actions:events", target):
        traceback, host = True, version >= V2_62
    elif version >= V2_51:
        traceback, host = False, False
    else:
        return None
    details = version >= V2_84 and policy.check(
        ctx, "compute:instance_actions:events:details", target
    )
    return EventFields(traceback=traceback, host=host, host_id=version >= V2_62, details=details)


async def show(
    request: Request, server_id: str, request_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    version = http.version(request)
    instance = await _instance(request, ctx, server_id, version)
    policy.enforce(ctx, "compute:instance_actions:show", {"project_id": instance.project_id})
    fields = _event_fields(ctx, instance, version)
    async with http.db(request).read() as session:
        action = await db.get_action(session, instance.uuid, request_id)
        if action is None:
            raise errors.InstanceActionNotFound(f"Action {request_id} not found")
        body = views.action(action, version)
        if fields is not None:
            # Events recorded by periodic tasks have no project: the server's salts hostId.
            salt = action.project_id or instance.project_id
            events = await db.list_events(session, action.id)
            body["events"] = [views.event(e, salt, fields) for e in events]
    return JSON({"instanceAction": body})


_ACTIONS = "/v2.1/servers/{server_id}/os-instance-actions"

ROUTES: tuple[Route, ...] = (
    Route("GET", _ACTIONS, index, "instance_actions:index"),
    Route("GET", _ACTIONS + "/{request_id}", show, "instance_actions:show"),
)
