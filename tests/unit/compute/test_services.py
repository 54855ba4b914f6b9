"""``/os-services``: listing with state and zone, updates old and new, deleting a compute host."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cumulo.compute.services.db import service_is_up
from cumulo.db.base import utcnow
from cumulo.db.models.hosts import Allocation, ComputeNode, ComputeService
from cumulo.runtime import Runtime
from tests.compute_rows import add_host, instance
from tests.fakes import DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import ADMIN, DEMO, at, fault

SERVICES = "/compute/v2.1/os-services"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


async def _service(runtime: Runtime, host: str, binary: str = "nova-compute") -> ComputeService:
    async with runtime.db.read() as session:
        found = await session.scalar(
            select(ComputeService).where(
                ComputeService.host == host, ComputeService.binary == binary
            )
        )
    assert found is not None
    return found


@pytest.fixture
async def hosts(runtime: Runtime) -> None:
    """compute-1 (up, zone az1), compute-2 (never reported), and a scheduler."""
    async with runtime.db.write() as session:
        await add_host(session, "compute-1", availability_zone="az1")
        await add_host(session, "compute-2", up=False)
        session.add(
            ComputeService(
                host="controller", binary="nova-scheduler", topic="scheduler",
                last_seen_up=utcnow(),
            )
        )  # fmt: skip


async def test_list_at_21(api: httpx.AsyncClient, runtime: Runtime, hosts: None) -> None:
    r = await api.get(SERVICES, headers=at("2.1"))
    assert r.status_code == 200
    services = r.json()["services"]
    one = await _service(runtime, "compute-1")
    assert one.last_seen_up is not None
    assert services[0] == {
        "id": one.id,
        "binary": "nova-compute",
        "host": "compute-1",
        "zone": "az1",
        "status": "enabled",
        "state": "up",
        "updated_at": one.last_seen_up.strftime(TIME_FORMAT),
        "disabled_reason": None,
    }
    assert [(s["host"], s["zone"], s["state"], s["updated_at"]) for s in services[1:]] == [
        ("compute-2", "nova", "down", None),
        ("controller", "internal", "up", services[2]["updated_at"]),
    ]


async def test_ids_and_forced_down_per_microversion(
    api: httpx.AsyncClient, runtime: Runtime, hosts: None
) -> None:
    one = await _service(runtime, "compute-1")
    at_211 = (await api.get(SERVICES, headers=at("2.11"))).json()["services"][0]
    assert at_211["id"] == one.id and at_211["forced_down"] is False
    at_253 = (await api.get(SERVICES, headers=at("2.53"))).json()["services"][0]
    assert at_253["id"] == one.uuid


async def test_filters(api: httpx.AsyncClient, hosts: None) -> None:
    async def hosts_of(query: str) -> list[str]:
        r = await api.get(f"{SERVICES}?{query}", headers=ADMIN)
        return [s["host"] for s in r.json()["services"]]

    assert await hosts_of("host=compute-2") == ["compute-2"]
    assert await hosts_of("binary=nova-scheduler") == ["controller"]
    assert await hosts_of("binary=nova-compute&host=controller") == []
    r = await api.get(f"{SERVICES}?zone=x", headers=at("2.75"))
    assert r.status_code == 400


async def test_admin_only(api: httpx.AsyncClient, hosts: None) -> None:
    assert (await api.get(SERVICES, headers=DEMO)).status_code == 403
    r = await api.put(f"{SERVICES}/disable", json={"host": "compute-1"}, headers=DEMO)
    assert r.status_code == 400  # the body is checked first, as Nova's schema decorator does
    r = await api.delete(f"{SERVICES}/1", headers=DEMO)
    assert r.status_code == 403


def test_service_is_up() -> None:
    now = datetime.datetime(2024, 1, 1, 12, 0, 0)
    seen = ComputeService(host="h", binary="nova-compute", topic="compute", forced_down=False)
    seen.last_seen_up = now - datetime.timedelta(seconds=60)
    assert service_is_up(seen, now, 60.0)
    assert not service_is_up(seen, now, 59.0)
    seen.last_seen_up = now + datetime.timedelta(seconds=30)  # a clock ahead of ours
    assert service_is_up(seen, now, 60.0)
    seen.forced_down = True
    assert not service_is_up(seen, now, 60.0)
    seen.forced_down, seen.last_seen_up = False, None
    assert not service_is_up(seen, now, 60.0)


async def test_stale_heartbeat_is_down(
    api: httpx.AsyncClient, runtime: Runtime, hosts: None
) -> None:
    runtime.settings.compute.service_down_time = 60
    async with runtime.db.write() as session:
        one = await session.scalar(select(ComputeService).where(ComputeService.host == "compute-1"))
        assert one is not None
        one.last_seen_up = utcnow() - datetime.timedelta(seconds=61)
    services = (await api.get(f"{SERVICES}?host=compute-1", headers=ADMIN)).json()["services"]
    assert services[0]["state"] == "down"


# --- PUT /os-services/{uuid} (2.53+) -------------------------------------------------------


async def put(
    api: httpx.AsyncClient, ident: str, body: Any, version: str = "2.53"
) -> httpx.Response:
    return await api.put(f"{SERVICES}/{ident}", json=body, headers=at(version))


async def test_disable_enable_and_force_down(
    api: httpx.AsyncClient, runtime: Runtime, hosts: None
) -> None:
    one = await _service(runtime, "compute-1")
    r = await put(api, one.uuid, {"status": "disabled", "disabled_reason": "maintenance"})
    assert r.status_code == 200
    shown = r.json()["service"]
    assert shown["id"] == one.uuid and shown["host"] == "compute-1"
    assert (shown["status"], shown["disabled_reason"], shown["state"]) == (
        "disabled", "maintenance", "up"
    )  # fmt: skip
    assert shown["forced_down"] is False and shown["zone"] == "az1"
    r = await put(api, one.uuid, {"forced_down": True})
    assert (r.json()["service"]["forced_down"], r.json()["service"]["state"]) == (True, "down")
    r = await put(api, one.uuid, {"status": "enabled", "forced_down": "false"})
    shown = r.json()["service"]
    assert (shown["status"], shown["disabled_reason"], shown["state"]) == ("enabled", None, "up")
    listed = (await api.get(SERVICES, headers=at("2.53"))).json()["services"][0]
    assert listed == shown


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "No updates were requested. Fields 'status' or 'forced_down' should be specified."),
        (
            {"disabled_reason": "x"},
            "No updates were requested. Fields 'status' or 'forced_down' should be specified.",
        ),
        (
            {"status": "enabled", "disabled_reason": "x"},
            "Specifying 'disabled_reason' with status 'enabled' is invalid.",
        ),
        (
            {"status": "off"},
            "Invalid input for field/attribute status. Value: off. "
            "'off' is not one of ['enabled', 'disabled']",
        ),
        (
            {"host": "compute-1"},
            "Additional properties are not allowed ('host' was unexpected)",
        ),
    ],
)
async def test_bad_updates(
    api: httpx.AsyncClient, runtime: Runtime, hosts: None, body: Any, message: str
) -> None:
    one = await _service(runtime, "compute-1")
    r = await put(api, one.uuid, body)
    assert r.status_code == 400
    assert fault(r)["message"] == message


async def test_update_names_a_compute_service_by_uuid(
    api: httpx.AsyncClient, runtime: Runtime, hosts: None
) -> None:
    r = await put(api, "1", {"status": "disabled"})
    assert (r.status_code, fault(r)["message"]) == (400, "Invalid uuid 1")
    missing = "0b0b0b0b-0b0b-0b0b-0b0b-0b0b0b0b0b0b"
    r = await put(api, missing, {"status": "disabled"})
    assert (r.status_code, fault(r)["message"]) == (
        404, f"Service {missing} could not be found."
    )  # fmt: skip
    scheduler = await _service(runtime, "controller", "nova-scheduler")
    r = await put(api, scheduler.uuid, {"status": "disabled"})
    assert (r.status_code, fault(r)["message"]) == (
        400,
        "Updating a nova-scheduler service is not supported. Only nova-compute services can "
        "be updated.",
    )


# --- PUT /os-services/{action} (before 2.53) -----------------------------------------------

ONE = {"host": "compute-1", "binary": "nova-compute"}


async def test_legacy_actions(api: httpx.AsyncClient, runtime: Runtime, hosts: None) -> None:
    r = await put(api, "disable", ONE, "2.1")
    assert r.status_code == 200
    assert r.json() == {"service": {**ONE, "status": "disabled"}}
    r = await put(api, "disable-log-reason", {**ONE, "disabled_reason": "disk"}, "2.1")
    assert r.json() == {"service": {**ONE, "status": "disabled", "disabled_reason": "disk"}}
    assert (await _service(runtime, "compute-1")).disabled_reason == "disk"
    r = await put(api, "enable", ONE, "2.1")
    assert r.json() == {"service": {**ONE, "status": "enabled"}}
    r = await put(api, "force-down", {**ONE, "forced_down": "yes"}, "2.11")
    assert r.json() == {"service": {**ONE, "forced_down": True}}
    listed = (await api.get(f"{SERVICES}?host=compute-1", headers=at("2.11"))).json()
    assert (listed["services"][0]["state"], listed["services"][0]["forced_down"]) == (
        "down", True
    )  # fmt: skip


@pytest.mark.parametrize(
    ("version", "action", "body", "status", "message"),
    [
        ("2.10", "force-down", {**ONE, "forced_down": True}, 400,
         "Additional properties are not allowed ('forced_down' was unexpected)"),
        ("2.10", "force-down", ONE, 404, "Unknown action"),
        ("2.11", "force-down", ONE, 400, "Missing forced_down field"),
        ("2.1", "disable-log-reason", ONE, 400, "Missing disabled reason field"),
        ("2.1", "disable", {"host": "compute-1"}, 400, "'binary' is a required property"),
        ("2.1", "disable", {**ONE, "host": "bad host"}, 400,
         "Invalid input for field/attribute host. Value: bad host. "
         "'bad host' does not match '^[a-zA-Z0-9-._]*$'"),
        ("2.1", "disable", {**ONE, "host": "nope"}, 404,
         "Could not find binary nova-compute on host nope."),
        ("2.1", "disable", {"host": "controller", "binary": "nova-scheduler"}, 400,
         "Updating a nova-scheduler service is not supported. Only nova-compute services "
         "can be updated."),
    ],
)  # fmt: skip
async def test_legacy_errors(
    api: httpx.AsyncClient,
    hosts: None,
    version: str,
    action: str,
    body: Any,
    status: int,
    message: str,
) -> None:
    r = await put(api, action, body, version)
    assert r.status_code == status
    assert fault(r)["message"] == message


# --- DELETE ---------------------------------------------------------------------------------


async def test_delete_compute_service_takes_its_nodes(
    api: httpx.AsyncClient, runtime: Runtime, hosts: None
) -> None:
    one = await _service(runtime, "compute-1")
    server = instance(DEMO_PROJECT, DEMO_USER, host="compute-1")
    async with runtime.db.write() as session:
        node = await session.scalar(select(ComputeNode).where(ComputeNode.host == "compute-1"))
        assert node is not None
        session.add(server)
        session.add(
            Allocation(
                consumer_id=server.uuid, node_uuid=node.uuid, resource_class="VCPU", used=1,
                project_id=DEMO_PROJECT, user_id=DEMO_USER,
            )
        )  # fmt: skip
    r = await api.delete(f"{SERVICES}/{one.id}", headers=at("2.1"))
    assert r.status_code == 409
    assert fault(r)["message"] == (
        "Unable to delete compute service that is hosting instances. Migrate or delete the "
        "instances first."
    )
    async with runtime.db.write() as session:
        row = await session.get(type(server), server.id)
        assert row is not None
        row.deleted = row.id
    r = await api.delete(f"{SERVICES}/{one.uuid}", headers=at("2.53"))
    assert r.status_code == 204
    async with runtime.db.read() as session:
        for model in (ComputeNode, Allocation):
            count = await session.scalar(select(func.count()).select_from(model))
            assert count == (1 if model is ComputeNode else 0)  # compute-2's node stays
    hosts_left = [s["host"] for s in (await api.get(SERVICES, headers=ADMIN)).json()["services"]]
    assert hosts_left == ["compute-2", "controller"]


async def test_delete_other_services_and_errors(
    api: httpx.AsyncClient, runtime: Runtime, hosts: None
) -> None:
    scheduler = await _service(runtime, "controller", "nova-scheduler")
    r = await api.delete(f"{SERVICES}/{scheduler.uuid}", headers=at("2.1"))
    assert (r.status_code, fault(r)["message"]) == (
        400, "Invalid input received: id must be an integer"
    )  # fmt: skip
    r = await api.delete(f"{SERVICES}/{scheduler.id}", headers=at("2.53"))
    assert (r.status_code, fault(r)["message"]) == (400, f"Invalid uuid {scheduler.id}")
    for missing in ("999", "99999999999999999999"):
        r = await api.delete(f"{SERVICES}/{missing}", headers=at("2.1"))
        assert (r.status_code, fault(r)["message"]) == (404, f"Service {missing} not found.")
    r = await api.delete(f"{SERVICES}/{scheduler.id}", headers=at("2.1"))
    assert r.status_code == 204
    r = await api.delete(f"{SERVICES}/{scheduler.id}", headers=at("2.1"))
    assert r.status_code == 404
