"""``/os-hypervisors``: compute nodes with their service's state, per microversion."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import delete, select

from cumulo.db.models.hosts import ComputeNode, ComputeService
from cumulo.db.models.instances import Instance
from cumulo.runtime import Runtime
from tests.compute_rows import add_host, instance
from tests.fakes import DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import ADMIN, DEMO, at, fault

HYPERVISORS = "/compute/v2.1/os-hypervisors"
CPU_INFO = {"arch": "x86_64", "model": "Nehalem", "topology": {"cores": 1, "sockets": 4}}


@dataclass
class Cloud:
    nodes: dict[str, ComputeNode]
    services: dict[str, ComputeService]
    servers: list[Instance]


@pytest.fixture
async def cloud(runtime: Runtime) -> Cloud:
    """compute-1 (up, two servers, one building), compute-2 (disabled, never reported),
    and orphan-3 (a node whose service was deleted)."""
    servers = [
        instance(DEMO_PROJECT, DEMO_USER),
        instance(DEMO_PROJECT, DEMO_USER, vm_state="building", task_state="spawning"),
        instance(DEMO_PROJECT, DEMO_USER, deleted=1),
    ]
    async with runtime.db.write() as session:
        nodes = {
            "compute-1": await add_host(
                session, "compute-1", used_vcpus=2, used_memory_mb=1024, used_disk_gb=2,
                cpu_info=json.dumps(CPU_INFO), hypervisor_type="QEMU",
                hypervisor_version=8002000, host_ip="192.0.2.1",
            ),
            "compute-2": await add_host(session, "compute-2", up=False, disabled=True),
            "orphan-3": await add_host(session, "orphan-3"),
        }  # fmt: skip
        await session.execute(delete(ComputeService).where(ComputeService.host == "orphan-3"))
        session.add_all(servers)
        rows = await session.scalars(select(ComputeService))
        services = {s.host: s for s in rows}
        services["compute-2"].disabled_reason = "broken"
    return Cloud(nodes, services, servers[:2])


async def get(api: httpx.AsyncClient, path: str, version: str) -> httpx.Response:
    return await api.get(f"{HYPERVISORS}{path}", headers=at(version))


async def test_index_before_and_after_253(api: httpx.AsyncClient, cloud: Cloud) -> None:
    one, two = cloud.nodes["compute-1"], cloud.nodes["compute-2"]
    r = await get(api, "", "2.1")
    assert r.json() == {
        "hypervisors": [
            {"id": one.id, "hypervisor_hostname": "compute-1", "state": "up", "status": "enabled"},
            {
                "id": two.id,
                "hypervisor_hostname": "compute-2",
                "state": "down",
                "status": "disabled",
            },
        ]
    }
    r = await get(api, "", "2.53")
    assert [h["id"] for h in r.json()["hypervisors"]] == [one.uuid, two.uuid]


async def test_detail_before_288(api: httpx.AsyncClient, cloud: Cloud) -> None:
    one, service = cloud.nodes["compute-1"], cloud.services["compute-1"]
    [first, second] = (await get(api, "/detail", "2.1")).json()["hypervisors"]
    assert first == {
        "id": one.id,
        "hypervisor_hostname": "compute-1",
        "state": "up",
        "status": "enabled",
        "hypervisor_type": "QEMU",
        "hypervisor_version": 8002000,
        "host_ip": "192.0.2.1",
        "service": {"id": service.id, "host": "compute-1", "disabled_reason": None},
        "vcpus": 8,
        "memory_mb": 16384,
        "local_gb": 100,
        "vcpus_used": 2,
        "memory_mb_used": 1024,
        "local_gb_used": 2,
        "free_ram_mb": 15360,
        "free_disk_gb": 98,
        "current_workload": 1,
        "running_vms": 2,
        "disk_available_least": 98,
        "cpu_info": json.dumps(CPU_INFO),
    }
    assert second["service"]["disabled_reason"] == "broken"
    assert (second["running_vms"], second["current_workload"]) == (0, 0)
    at_228 = (await get(api, "/detail", "2.28")).json()["hypervisors"]
    assert at_228[0]["cpu_info"] == CPU_INFO and at_228[1]["cpu_info"] == {}


async def test_detail_from_288(api: httpx.AsyncClient, cloud: Cloud) -> None:
    one, service = cloud.nodes["compute-1"], cloud.services["compute-1"]
    first = (await get(api, "/detail", "2.88")).json()["hypervisors"][0]
    assert first == {
        "id": one.uuid,
        "hypervisor_hostname": "compute-1",
        "state": "up",
        "status": "enabled",
        "hypervisor_type": "QEMU",
        "hypervisor_version": 8002000,
        "host_ip": "192.0.2.1",
        "service": {"id": service.uuid, "host": "compute-1", "disabled_reason": None},
        "uptime": None,
    }


async def test_show(api: httpx.AsyncClient, cloud: Cloud) -> None:
    one = cloud.nodes["compute-1"]
    old = (await get(api, f"/{one.id}", "2.1")).json()["hypervisor"]
    listed = (await get(api, "/detail", "2.1")).json()["hypervisors"][0]
    assert old == listed
    new = (await get(api, f"/{one.uuid}", "2.53")).json()["hypervisor"]
    assert new["id"] == one.uuid and "servers" not in new
    r = await get(api, f"/{one.id}", "2.53")
    assert (r.status_code, fault(r)["message"]) == (400, f"Invalid uuid {one.id}")
    for ident in ("abc", "999", "99999999999999999999"):
        r = await get(api, f"/{ident}", "2.1")
        assert r.status_code == 404
        assert fault(r)["message"] == f"Hypervisor with ID '{ident}' could not be found."
    orphan = cloud.nodes["orphan-3"]
    assert (await get(api, f"/{orphan.uuid}", "2.53")).status_code == 404


async def test_with_servers(api: httpx.AsyncClient, cloud: Cloud) -> None:
    expected = [{"name": f"instance-{s.id:08x}", "uuid": s.uuid} for s in cloud.servers]
    at_253 = (await get(api, "?with_servers=true", "2.53")).json()["hypervisors"]
    assert at_253[0]["servers"] == expected and "servers" not in at_253[1]
    at_275 = (await get(api, "/detail?with_servers=1", "2.75")).json()["hypervisors"]
    assert at_275[0]["servers"] == expected and at_275[1]["servers"] == []
    two = cloud.nodes["compute-2"]
    shown = (await get(api, f"/{two.uuid}?with_servers=yes", "2.75")).json()["hypervisor"]
    assert shown["servers"] == []
    r = await get(api, "?with_servers=maybe", "2.53")
    assert r.status_code == 400
    assert fault(r)["message"].startswith(
        "Invalid input for query parameters with_servers. Value: maybe. 'maybe' is not one of"
    )


async def test_hostname_pattern(api: httpx.AsyncClient, cloud: Cloud) -> None:
    r = await get(api, "?hypervisor_hostname_pattern=PUTE-2", "2.53")
    assert [h["hypervisor_hostname"] for h in r.json()["hypervisors"]] == ["compute-2"]
    assert "hypervisors_links" not in r.json()
    r = await get(api, "/detail?hypervisor_hostname_pattern=orphan", "2.53")
    assert r.json() == {"hypervisors": []}
    r = await get(api, "?hypervisor_hostname_pattern=zzz", "2.53")
    assert (r.status_code, fault(r)["message"]) == (
        404, "No hypervisor matching 'zzz' could be found."
    )  # fmt: skip
    r = await get(api, "?hypervisor_hostname_pattern=compute&limit=1", "2.53")
    assert (r.status_code, fault(r)["message"]) == (
        400,
        "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not "
        "supported.",
    )
    r = await get(api, "?hypervisor_hostname_pattern=a&hypervisor_hostname_pattern=b", "2.53")
    assert fault(r)["message"] == (
        "Invalid input for query parameters hypervisor_hostname_pattern. Value: ['a', 'b']. "
        "['a', 'b'] is too long"
    )


async def test_paging(api: httpx.AsyncClient, cloud: Cloud) -> None:
    one, two = cloud.nodes["compute-1"], cloud.nodes["compute-2"]
    r = await get(api, "?limit=1", "2.33")
    assert [h["id"] for h in r.json()["hypervisors"]] == [one.id]
    assert r.json()["hypervisors_links"] == [
        {
            "rel": "next",
            "href": f"http://cumulo.test/compute/v2.1/os-hypervisors?limit=1&marker={one.id}",
        }
    ]
    r = await get(api, f"/detail?limit=1&marker={one.uuid}", "2.53")
    assert [h["id"] for h in r.json()["hypervisors"]] == [two.uuid]
    assert r.json()["hypervisors_links"][0]["href"].endswith(
        f"/os-hypervisors/detail?limit=1&marker={two.uuid}"
    )
    r = await get(api, "?limit=1", "2.32")
    assert len(r.json()["hypervisors"]) == 2 and "hypervisors_links" not in r.json()
    for marker in ("999", "99999999999999999999", "x"):
        r = await get(api, f"?marker={marker}", "2.33")
        assert (r.status_code, fault(r)["message"]) == (400, f"marker [{marker}] not found")
    r = await get(api, "?sort=x", "2.53")
    assert r.status_code == 400


async def test_search_and_servers_before_253(api: httpx.AsyncClient, cloud: Cloud) -> None:
    r = await get(api, "/compute/search", "2.1")
    assert [h["hypervisor_hostname"] for h in r.json()["hypervisors"]] == [
        "compute-1", "compute-2"
    ]  # fmt: skip
    r = await get(api, "/compute/servers", "2.1")
    found = r.json()["hypervisors"]
    assert [s["uuid"] for s in found[0]["servers"]] == [s.uuid for s in cloud.servers]
    assert "servers" not in found[1]
    r = await get(api, "/nothing/search", "2.1")
    assert fault(r)["message"] == "No hypervisor matching 'nothing' could be found."
    for route in ("/compute/search", "/compute/servers"):
        r = await get(api, route, "2.53")
        assert (r.status_code, fault(r)["message"]) == (404, "The resource could not be found.")


async def test_statistics_before_288(api: httpx.AsyncClient, cloud: Cloud) -> None:
    r = await get(api, "/statistics", "2.87")
    assert r.json() == {
        "hypervisor_statistics": {
            "count": 1,
            "vcpus": 8,
            "memory_mb": 16384,
            "local_gb": 100,
            "vcpus_used": 2,
            "memory_mb_used": 1024,
            "local_gb_used": 2,
            "free_ram_mb": 15360,
            "free_disk_gb": 98,
            "current_workload": 1,
            "running_vms": 2,
            "disk_available_least": 98,
        }
    }
    assert (await get(api, "/statistics", "2.88")).status_code == 404


async def test_uptime_before_288(api: httpx.AsyncClient, cloud: Cloud) -> None:
    one, two = cloud.nodes["compute-1"], cloud.nodes["compute-2"]
    r = await get(api, f"/{one.id}/uptime", "2.1")
    assert (r.status_code, fault(r)["message"]) == (
        501, "The requested functionality is not supported."
    )  # fmt: skip
    r = await get(api, f"/{two.uuid}/uptime", "2.53")
    assert (r.status_code, fault(r)["message"]) == (
        400, "Compute service of compute-2 is unavailable at this time."
    )  # fmt: skip
    assert (await get(api, f"/{one.uuid}/uptime", "2.88")).status_code == 404


async def test_admin_only(api: httpx.AsyncClient, cloud: Cloud) -> None:
    for path in ("", "/detail", "/statistics", f"/{cloud.nodes['compute-1'].id}"):
        assert (await api.get(f"{HYPERVISORS}{path}", headers=DEMO)).status_code == 403
    assert (await api.get(HYPERVISORS, headers=ADMIN)).status_code == 200
