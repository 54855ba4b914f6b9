"""Instance actions: what the pipeline records, and ``os-instance-actions`` showing it."""

from __future__ import annotations

import datetime
import hashlib
import uuid

import httpx
import pytest
from sqlalchemy import select

from cumulo.compute.errors import InstanceActionNotFound
from cumulo.compute.instance_actions import db as actions
from cumulo.compute.instance_actions import names
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.instances import Instance, InstanceAction, InstanceActionEvent
from cumulo.runtime import Runtime
from tests import fakes
from tests.compute_rows import instance
from tests.fakes import ADMIN_PROJECT, ADMIN_USER, DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import ADMIN, DEMO, at, fault

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def demo(request_id: str) -> RequestContext:
    return fakes.DEMO.model_copy(update={"request_id": request_id})


def url(server: str, request_id: str = "") -> str:
    tail = f"/{request_id}" if request_id else ""
    return f"/compute/v2.1/servers/{server}/os-instance-actions{tail}"


@pytest.fixture
async def server(runtime: Runtime) -> str:
    """A demo server created by req-create (a build that failed on compute-1, then
    succeeded on compute-2) and stopped by req-stop."""
    row = instance(DEMO_PROJECT, DEMO_USER)
    async with runtime.db.write() as session:
        session.add(row)
        await session.flush()
        create, stop = demo("req-create"), demo("req-stop")
        await actions.action_start(session, create, row.uuid, names.CREATE)
        await actions.event_start(session, create, row.uuid, "build", host="compute-1")
        await actions.event_finish(
            session, create, row.uuid, "build", "Error", traceback="Traceback…", details="boom"
        )
        await actions.event_start(session, create, row.uuid, "build", host="compute-2")
        await actions.event_finish(session, create, row.uuid, "build")
        await actions.action_finish(session, create, row.uuid)
        await actions.action_start(session, stop, row.uuid, names.STOP)
    return row.uuid


async def _action(runtime: Runtime, request_id: str) -> InstanceAction:
    async with runtime.db.read() as session:
        found = await session.scalar(
            select(InstanceAction).where(InstanceAction.request_id == request_id)
        )
    assert found is not None
    return found


async def test_list_at_21_and_258(api: httpx.AsyncClient, runtime: Runtime, server: str) -> None:
    create = await _action(runtime, "req-create")
    r = await api.get(url(server), headers=at("2.1", DEMO))
    assert r.status_code == 200
    listed = r.json()["instanceActions"]
    assert [a["action"] for a in listed] == ["stop", "create"]
    assert listed[1] == {
        "action": "create",
        "instance_uuid": server,
        "request_id": "req-create",
        "user_id": DEMO_USER,
        "project_id": DEMO_PROJECT,
        "start_time": create.start_time.strftime(TIME_FORMAT),
        "message": "Error",
    }
    assert listed[0]["message"] is None
    r = await api.get(url(server), headers=at("2.58", DEMO))
    assert create.updated_at is not None
    assert r.json()["instanceActions"][1]["updated_at"] == create.updated_at.strftime(TIME_FORMAT)
    assert "links" not in r.json()


async def test_show_to_admin(api: httpx.AsyncClient, server: str) -> None:
    r = await api.get(url(server, "req-create"), headers=at("2.1"))
    shown = r.json()["instanceAction"]
    assert shown["action"] == "create" and "updated_at" not in shown
    events = shown["events"]
    assert [(e["event"], e["result"], e["traceback"]) for e in events] == [
        ("build", "Success", None),
        ("build", "Error", "Traceback…"),
    ]
    assert set(events[0]) == {"event", "start_time", "finish_time", "result", "traceback"}
    assert all(e["finish_time"] for e in events)  # each run of the step finished its own event
    at_284 = (await api.get(url(server, "req-create"), headers=at("2.84"))).json()
    first, second = at_284["instanceAction"]["events"]
    assert first["host"] == "compute-2" and first["details"] is None
    assert second["host"] == "compute-1" and second["details"] == "boom"
    expected = hashlib.sha224((DEMO_PROJECT + "compute-1").encode()).hexdigest()
    assert second["hostId"] == expected


async def test_show_to_owner(api: httpx.AsyncClient, server: str) -> None:
    r = await api.get(url(server, "req-create"), headers=at("2.50", DEMO))
    assert "events" not in r.json()["instanceAction"]
    r = await api.get(url(server, "req-create"), headers=at("2.51", DEMO))
    assert set(r.json()["instanceAction"]["events"][0]) == {
        "event", "start_time", "finish_time", "result"
    }  # fmt: skip
    r = await api.get(url(server, "req-create"), headers=at("2.100", DEMO))
    event = r.json()["instanceAction"]["events"][0]
    assert set(event) == {"event", "start_time", "finish_time", "result", "hostId"}
    assert r.json()["instanceAction"]["updated_at"] is not None
    r = await api.get(url(server, "req-stop"), headers=at("2.100", DEMO))
    assert r.json()["instanceAction"]["events"] == []
    r = await api.get(url(server, "req-nothing"), headers=DEMO)
    assert (r.status_code, fault(r)["message"]) == (404, "Action req-nothing not found")


async def test_paging_and_changes(api: httpx.AsyncClient, runtime: Runtime, server: str) -> None:
    r = await api.get(url(server) + "?limit=1", headers=at("2.58", DEMO))
    assert [a["request_id"] for a in r.json()["instanceActions"]] == ["req-stop"]
    assert r.json()["links"] == [
        {
            "rel": "next",
            "href": f"http://cumulo.test/compute/v2.1/servers/{server}/os-instance-actions"
            "?limit=1&marker=req-stop",
        }
    ]
    r = await api.get(url(server) + "?marker=req-stop", headers=at("2.58", DEMO))
    assert [a["request_id"] for a in r.json()["instanceActions"]] == ["req-create"]
    r = await api.get(url(server) + "?marker=req-gone", headers=at("2.58", DEMO))
    assert (r.status_code, fault(r)["message"]) == (400, "Marker None could not be found.")

    long_ago = datetime.datetime(2020, 1, 1)
    async with runtime.db.write() as session:
        create = await session.scalar(
            select(InstanceAction).where(InstanceAction.request_id == "req-create")
        )
        assert create is not None
        create.updated_at = long_ago

    async def request_ids(query: str, version: str = "2.66") -> list[str]:
        r = await api.get(url(server) + query, headers=at(version, DEMO))
        assert r.status_code == 200, r.text
        return [a["request_id"] for a in r.json()["instanceActions"]]

    assert await request_ids("?changes-since=2021-01-01T00:00:00Z") == ["req-stop"]
    assert await request_ids("?changes-before=2021-01-01T00:00:00%2B02:00") == ["req-create"]
    assert await request_ids("?changes-since=2019-12-31&changes-before=2020-01-02") == [
        "req-create"
    ]
    assert await request_ids("?whatever=1", "2.57") == ["req-stop", "req-create"]


@pytest.mark.parametrize(
    ("version", "query", "message"),
    [
        ("2.58", "?changes-before=2020-01-01",
         "Additional properties are not allowed ('changes-before' was unexpected)"),
        ("2.66", "?changes-since=2021-01-01&changes-before=2020-01-01",
         "The value of changes-since must be less than or equal to changes-before."),
        ("2.66", "?changes-since=yesterday",
         "Invalid input for query parameters changes-since. Value: yesterday. "
         "'yesterday' is not a 'date-time'"),
        ("2.58", "?limit=1&limit=2",
         "Invalid input for query parameters limit. Value: ['1', '2']. "
         "['1', '2'] is too long"),
        ("2.58", "?limit=x",
         "Invalid input for query parameters limit. Value: x. 'x' does not match '^[0-9]*$'"),
    ],
)  # fmt: skip
async def test_bad_queries(
    api: httpx.AsyncClient, server: str, version: str, query: str, message: str
) -> None:
    r = await api.get(url(server) + query, headers=at(version, DEMO))
    assert r.status_code == 400
    assert fault(r)["message"] == message


async def test_deleted_and_foreign_servers(
    api: httpx.AsyncClient, runtime: Runtime, server: str
) -> None:
    async with runtime.db.write() as session:
        row = await session.scalar(select(Instance).where(Instance.uuid == server))
        assert row is not None
        row.deleted = row.id
    r = await api.get(url(server), headers=at("2.20", DEMO))
    assert (r.status_code, fault(r)["message"]) == (404, f"Instance {server} could not be found.")
    r = await api.get(url(server, "req-stop"), headers=at("2.21", DEMO))
    assert r.status_code == 200

    theirs = instance(ADMIN_PROJECT, ADMIN_USER)
    async with runtime.db.write() as session:
        session.add(theirs)
    r = await api.get(url(theirs.uuid), headers=DEMO)
    assert (r.status_code, fault(r)["message"]) == (
        404, f"Instance {theirs.uuid} could not be found."
    )  # fmt: skip
    assert (await api.get(url(theirs.uuid), headers=ADMIN)).json() == {"instanceActions": []}


async def test_write_side_errors_and_finish(runtime: Runtime, server: str) -> None:
    stop = await _action(runtime, "req-stop")
    async with runtime.db.write() as session:
        # Work no request of the server's started (a resumed build) joins its newest action.
        orphan = await actions.event_start(session, demo("req-unknown"), server, "x")
        assert orphan.action_id == stop.id
        with pytest.raises(InstanceActionNotFound):
            await actions.event_start(session, demo("req-unknown"), str(uuid.uuid4()), "x")
        stopped = await actions.action_finish(session, demo("req-stop"), server, error=True)
        assert stopped.finish_time is not None and stopped.message == "Error"
    before = await _action(runtime, "req-stop")
    internal = RequestContext.admin_context("req-periodic")
    async with runtime.db.write() as session:
        event = await actions.event_start(session, internal, server, "compute_init_host")
        assert event.action_id == before.id
        await actions.event_finish(session, internal, server, "compute_init_host")
    after = await _action(runtime, "req-stop")
    assert after.updated_at == before.updated_at


async def test_event_finish_updates_the_action(runtime: Runtime, server: str) -> None:
    start = utcnow()
    ctx = demo("req-stop")
    async with runtime.db.write() as session:
        await actions.event_start(session, ctx, server, "compute_stop_instance", host="h")
        await actions.event_finish(session, ctx, server, "compute_stop_instance")
    async with runtime.db.read() as session:
        finished = await session.scalar(
            select(InstanceActionEvent).where(InstanceActionEvent.event == "compute_stop_instance")
        )
    assert finished is not None
    assert finished.result == "Success" and finished.finish_time is not None
    stop = await _action(runtime, "req-stop")
    assert stop.updated_at is not None and stop.updated_at >= start
    assert stop.message is None
