"""The boot pipeline with the fake driver: API → conductor → scheduler → compute, and every
failure branch. After each, ``cumulo audit`` must find nothing left behind."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cumulo.conductor.manager import ConductorManager
from cumulo.db.models.instances import BlockDeviceMapping, Instance
from cumulo.network.compute_errors import NoMoreFixedIps
from cumulo.network.rpcapi import NetworkAPI
from cumulo.scheduler import claims
from cumulo.scheduler.manager import SchedulerManager
from cumulo.virt.fake import FakeDriver, Injection
from tests.boot_cloud import ADMIN, DEMO, BootCloud, boot_cloud
from tests.databases import ENGINES
from tests.fakes import DEMO_PROJECT


@pytest.fixture
async def cloud(tmp_path: Path) -> Any:
    async with boot_cloud(tmp_path) as c:
        yield c


async def test_boot_goes_active_on_a_host_with_a_port(cloud: BootCloud) -> None:
    uuid = await cloud.create("web")
    server = await cloud.wait(uuid, "active")
    assert server.power_state == 1
    assert server.host in {"compute-1", "compute-2", "compute-3"}
    assert server.launched_at is not None
    assert server.network_info and server.network_info[0]["network"]["id"] == cloud.network_id
    assert await cloud.ports_of(uuid) == 1
    assert await cloud.allocations_of(uuid) == 3
    assert await cloud.leaks() == []


async def test_create_answers_the_nova_shape(cloud: BootCloud) -> None:
    r = await cloud.api.post("/compute/v2.1/servers", headers=DEMO, json=cloud.server_body("web"))
    assert r.status_code == 202
    server = r.json()["server"]
    assert set(server) == {"id", "links", "OS-DCF:diskConfig", "security_groups", "adminPass"}
    assert server["security_groups"] == [{"name": "default"}]
    assert len(server["adminPass"]) == 12
    assert r.headers["Location"] == server["links"][0]["href"]
    await cloud.wait(server["id"], "active")


async def test_return_reservation_id_and_multi_create(cloud: BootCloud) -> None:
    r = await cloud.api.post(
        "/compute/v2.1/servers",
        headers=DEMO,
        json=cloud.server_body("many", min_count=3, max_count=3, return_reservation_id=True),
    )
    assert r.status_code == 202
    reservation = r.json()["reservation_id"]
    assert reservation.startswith("r-")
    async with cloud.runtime.db.read() as session:
        rows = list(
            await session.scalars(select(Instance).where(Instance.reservation_id == reservation))
        )
    assert sorted(r.display_name for r in rows) == ["many-1", "many-2", "many-3"]
    for row in rows:
        await cloud.wait(row.uuid, "active")


async def test_no_valid_host_puts_the_server_in_error_and_releases_it(cloud: BootCloud) -> None:
    huge = await cloud.flavor("huge", vcpus=1, ram=16384, disk=1)
    uuid = await cloud.create("big", flavorRef=huge)
    server = await cloud.wait(uuid, "error")
    fault = await cloud.fault(uuid)
    assert fault is not None and fault.code == 500
    assert fault.message.startswith("No valid host was found.")
    assert server.host is None
    assert await cloud.allocations_of(uuid) == 0
    assert await cloud.ports_of(uuid) == 0
    assert await cloud.leaks() == []
    r = await cloud.api.get("/compute/v2.1/limits", headers=DEMO)
    assert r.json()["limits"]["absolute"]["totalInstancesUsed"] == 0


async def test_reschedule_then_success_on_an_alternate(cloud: BootCloud) -> None:
    FakeDriver.inject(Injection("retryable", times=1))
    uuid = await cloud.create()
    server = await cloud.wait(uuid, "active")
    assert await cloud.fault(uuid) is None
    assert await cloud.allocations_of(uuid) == 3
    assert await cloud.ports_of(uuid) == 1
    assert server.host is not None
    assert await cloud.leaks() == []


async def test_reschedule_exhausted_ends_in_error(cloud: BootCloud) -> None:
    FakeDriver.inject(Injection("retryable"))
    uuid = await cloud.create()
    await cloud.wait(uuid, "error")
    fault = await cloud.fault(uuid)
    assert fault is not None
    assert fault.message.startswith("Exceeded maximum number of retries.")
    assert await cloud.allocations_of(uuid) == 0
    assert await cloud.ports_of(uuid) == 0
    assert await cloud.leaks() == []


async def test_fatal_driver_error_aborts_the_build(cloud: BootCloud) -> None:
    FakeDriver.inject(Injection("fatal"))
    uuid = await cloud.create()
    server = await cloud.wait(uuid, "error")
    fault = await cloud.fault(uuid)
    assert fault is not None
    assert fault.message.startswith(f"Build of instance {uuid} aborted:")
    assert server.host is None
    assert await cloud.allocations_of(uuid) == 0
    assert await cloud.ports_of(uuid) == 0
    assert await cloud.leaks() == []


async def test_an_abort_whose_guest_cannot_be_destroyed_still_ends_in_error(
    cloud: BootCloud,
) -> None:
    """The guest left behind is the reaper's; the server must not stay in BUILD."""
    FakeDriver.inject(Injection("fatal"))

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the hypervisor is gone")

    for manager in cloud.computes():
        manager.driver.destroy = broken  # type: ignore[method-assign]
    uuid = await cloud.create()
    await cloud.wait(uuid, "error")
    assert await cloud.allocations_of(uuid) == 0
    assert await cloud.ports_of(uuid) == 0


def _flaky_network(cloud: BootCloud, failures: int) -> list[int]:
    """Make every host's network allocation fail ``failures`` times before working."""
    calls = [0]
    real = NetworkAPI.allocate_for_instance

    async def flaky(self: NetworkAPI, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= failures:
            raise NoMoreFixedIps(net="injected")
        return await real(self, *args, **kwargs)

    for manager in cloud.computes():
        manager.network_api.allocate_for_instance = flaky.__get__(manager.network_api)  # type: ignore[method-assign]
    return calls


async def test_network_allocation_retried_until_it_works(cloud: BootCloud) -> None:
    calls = _flaky_network(cloud, failures=2)
    uuid = await cloud.create()
    await cloud.wait(uuid, "active")
    assert calls[0] == 3
    assert await cloud.ports_of(uuid) == 1


async def test_network_allocation_exhausted_aborts(cloud: BootCloud) -> None:
    calls = _flaky_network(cloud, failures=100)
    uuid = await cloud.create()
    await cloud.wait(uuid, "error")
    fault = await cloud.fault(uuid)
    assert fault is not None
    assert "Failed to allocate the network(s), not rescheduling." in fault.message
    assert calls[0] == 4  # the first try and network_allocate_retries (3) more
    assert await cloud.allocations_of(uuid) == 0
    assert await cloud.leaks() == []


async def test_delete_an_active_server(cloud: BootCloud) -> None:
    uuid = await cloud.create()
    await cloud.wait(uuid, "active")
    r = await cloud.api.delete(f"/compute/v2.1/servers/{uuid}", headers=DEMO)
    assert r.status_code == 204
    row = await cloud.wait(uuid, "deleted")
    assert row.deleted and row.vm_state == "deleted"
    assert await cloud.ports_of(uuid) == 0
    assert await cloud.allocations_of(uuid) == 0
    assert await cloud.leaks() == []


async def test_delete_an_errored_server(cloud: BootCloud) -> None:
    huge = await cloud.flavor("huge", vcpus=1, ram=16384, disk=1)
    uuid = await cloud.create("big", flavorRef=huge)
    await cloud.wait(uuid, "error")
    r = await cloud.api.delete(f"/compute/v2.1/servers/{uuid}", headers=DEMO)
    assert r.status_code == 204
    await cloud.wait(uuid, "deleted")
    assert await cloud.leaks() == []


@pytest.mark.parametrize("step", ["scheduling", "networking", "block_device_mapping", "spawning"])
async def test_delete_during_each_build_step(cloud: BootCloud, step: str) -> None:
    """A delete racing a build: the server goes away and nothing it held is left."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        entered.set()
        await release.wait()

    _pause_build_at(cloud, step, hold)
    uuid = await cloud.create()
    await asyncio.wait_for(entered.wait(), 5)
    r = await cloud.api.delete(f"/compute/v2.1/servers/{uuid}", headers=DEMO)
    assert r.status_code == 204
    release.set()
    await cloud.wait(uuid, "deleted")
    await asyncio.sleep(0.2)  # the build notices and undoes its work
    assert await cloud.ports_of(uuid) == 0
    assert await cloud.allocations_of(uuid) == 0
    for manager in cloud.computes():
        assert uuid not in manager.driver.guests  # type: ignore[attr-defined]
    assert await cloud.leaks() == []


def _pause_build_at(cloud: BootCloud, step: str, hold: Any) -> None:
    """Make the build wait on ``hold`` while its instance is in task state ``step``."""
    if step == "scheduling":
        conductor = cloud.conductor()
        real_select = conductor.scheduler.select_destinations

        async def select(*args: Any, **kwargs: Any) -> Any:
            await hold()
            return await real_select(*args, **kwargs)

        conductor.scheduler.select_destinations = select  # type: ignore[method-assign]
        return
    for manager in cloud.computes():
        if step == "networking":
            real_alloc = manager.network_api.allocate_for_instance

            async def alloc(*args: Any, _real: Any = real_alloc, **kwargs: Any) -> Any:
                await hold()
                return await _real(*args, **kwargs)

            manager.network_api.allocate_for_instance = alloc  # type: ignore[method-assign]
        elif step == "block_device_mapping":
            real_prep = manager._prep_block_device

            async def prep(*args: Any, _real: Any = real_prep, **kwargs: Any) -> Any:
                await hold()
                return await _real(*args, **kwargs)

            manager._prep_block_device = prep  # type: ignore[method-assign]
        else:
            real_spawn = manager.driver.spawn

            async def spawn(*args: Any, _real: Any = real_spawn, **kwargs: Any) -> Any:
                await hold()
                return await _real(*args, **kwargs)

            manager.driver.spawn = spawn  # type: ignore[method-assign]


async def test_quota_limits_concurrent_creates_exactly(tmp_path: Path) -> None:
    async with boot_cloud(tmp_path) as cloud:
        r = await cloud.api.put(
            f"/compute/v2.1/os-quota-sets/{DEMO_PROJECT}",
            headers=ADMIN,
            json={"quota_set": {"instances": 10}},
        )
        assert r.status_code == 200, r.text
        results = await asyncio.gather(
            *(
                cloud.api.post(
                    "/compute/v2.1/servers", headers=DEMO, json=cloud.server_body(f"q{i}")
                )
                for i in range(100)
            )
        )
        codes = sorted(r.status_code for r in results)
        assert codes.count(202) == 10
        assert codes.count(403) == 90
        refused = next(r for r in results if r.status_code == 403)
        assert refused.json()["forbidden"]["message"].startswith(
            "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"
        )
        for r in results:
            if r.status_code == 202:
                await cloud.wait(r.json()["server"]["id"], "active")


@pytest.mark.parametrize("engine", ENGINES)
async def test_quota_holds_under_concurrency_on_every_engine(tmp_path: Path, engine: str) -> None:
    async with boot_cloud(tmp_path, engine) as cloud:
        await cloud.api.put(
            f"/compute/v2.1/os-quota-sets/{DEMO_PROJECT}",
            headers=ADMIN,
            json={"quota_set": {"instances": 10}},
        )
        results = await asyncio.gather(
            *(
                cloud.api.post(
                    "/compute/v2.1/servers", headers=DEMO, json=cloud.server_body(f"q{i}")
                )
                for i in range(100)
            )
        )
        assert sorted(r.status_code for r in results).count(202) == 10


async def test_two_schedulers_never_overcommit(tmp_path: Path) -> None:
    """50 creates at once, two scheduler workers, room for exactly 20: 20 ACTIVE, 30 ERROR."""
    fake = {"vcpus": 64, "memory_mb": 5120, "local_gb": 1000}
    compute = {"hosts": ["compute-1", "compute-2"], "quota_instances": -1, "quota_cores": -1}
    async with boot_cloud(tmp_path, compute=compute, fake_driver=fake) as cloud:
        second = SchedulerManager(cloud.runtime)
        assert cloud.runtime.bus is not None
        await cloud.runtime.bus.serve(second.topic, second.handlers())
        results = await asyncio.gather(
            *(
                cloud.api.post(
                    "/compute/v2.1/servers", headers=DEMO, json=cloud.server_body(f"s{i}")
                )
                for i in range(50)
            )
        )
        uuids = [r.json()["server"]["id"] for r in results]
        states = [(await cloud.wait(u, "active", "error", seconds=30)).vm_state for u in uuids]
        assert states.count("active") == 20
        assert states.count("error") == 30
        for uuid, state in zip(uuids, states, strict=True):
            if state == "error":
                fault = await cloud.fault(uuid)
                assert fault is not None and fault.message.startswith("No valid host was found.")
        async with cloud.runtime.db.read() as session:
            assert await claims.usage_mismatches(session) == []
        assert await cloud.leaks() == []


async def test_a_build_lost_with_the_process_resumes_at_start(cloud: BootCloud) -> None:
    """In-memory bus: a cast to the conductor dies with the process; the next start builds."""
    lost, never = asyncio.Event(), asyncio.Event()
    first = cloud.conductor()
    real_select = first.scheduler.select_destinations

    async def hang(*args: Any, **kwargs: Any) -> Any:
        lost.set()
        await never.wait()
        return await real_select(*args, **kwargs)

    first.scheduler.select_destinations = hang  # type: ignore[method-assign]
    uuid = await cloud.create()
    await asyncio.wait_for(lost.wait(), 5)

    restarted = ConductorManager(cloud.runtime)
    await restarted.start()
    server = await cloud.wait(uuid, "active")
    # The lost delivery, were it to come back, finds the build done and changes nothing.
    never.set()
    await asyncio.sleep(0.2)
    assert await cloud.allocations_of(uuid) == 3
    assert server.host is not None
    await restarted.stop()
    assert await cloud.leaks() == []


async def test_volume_devices_follow_the_disk_the_server_boots_from(cloud: BootCloud) -> None:
    """An image-backed server's own disk is vda, so its first volume is vdb; a server
    booted from a volume has that volume as vda."""
    blank = {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
             "boot_index": -1, "delete_on_termination": True}  # fmt: skip
    from_image = await cloud.create("with-data", block_device_mapping_v2=[blank])
    await cloud.wait(from_image, "active")
    boot_volume = {"source_type": "image", "uuid": cloud.image_id, "destination_type": "volume",
                   "volume_size": 1, "boot_index": 0, "delete_on_termination": True}  # fmt: skip
    from_volume = await cloud.create(
        "bfv", imageRef="", block_device_mapping_v2=[boot_volume, blank]
    )
    await cloud.wait(from_volume, "active")
    async with cloud.runtime.db.read() as session:
        rows = (
            await session.execute(
                select(BlockDeviceMapping.instance_uuid, BlockDeviceMapping.device_name)
                .where(BlockDeviceMapping.destination_type == "volume")
                .order_by(BlockDeviceMapping.id)
            )
        ).all()
    devices = [(uuid, name) for uuid, name in rows]
    assert devices == [
        (from_image, "/dev/vdb"),
        (from_volume, "/dev/vda"),
        (from_volume, "/dev/vdb"),
    ]
