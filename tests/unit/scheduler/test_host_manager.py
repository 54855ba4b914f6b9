"""Host states come from the database as the filters need them, on every engine."""

from __future__ import annotations

from sqlalchemy import update

from cumulo.db.models.hosts import ComputeService
from cumulo.db.models.instances import ServerGroup, ServerGroupMember
from cumulo.runtime import Runtime
from cumulo.scheduler.host_manager import host_states
from cumulo.scheduler.host_state import HostState, Resources
from cumulo.scheduler.request_spec import GroupSpec, RequestSpec
from tests.compute_rows import add_host, instance
from tests.fakes import DEMO_PROJECT, DEMO_USER
from tests.unit.scheduler.conftest import add_hosts, last_heartbeat, spec


async def load(runtime: Runtime, request: RequestSpec) -> dict[str, HostState]:
    async with runtime.db.read() as session:
        return {h.host: h for h in await host_states(session, runtime.settings, request)}


async def test_inventory_usage_and_service_state(engine_runtime: Runtime) -> None:
    await add_hosts(engine_runtime, "fresh", used_memory_mb=512, failed_builds=2)
    await add_hosts(engine_runtime, "stale", "forced", "off")
    await last_heartbeat(engine_runtime, "stale", seconds_ago=61)
    async with engine_runtime.db.write() as session:
        await session.execute(
            update(ComputeService).where(ComputeService.host == "forced").values(forced_down=True)
        )
        await session.execute(
            update(ComputeService).where(ComputeService.host == "off").values(disabled=True)
        )
        await add_host(session, "never-reported", up=False)
    hosts = await load(engine_runtime, spec())
    states = {name: (h.enabled, h.up) for name, h in hosts.items()}
    assert states == {
        "fresh": (True, True),
        "stale": (True, False),
        "forced": (True, False),
        "off": (False, True),
        "never-reported": (True, False),
    }
    fresh = hosts["fresh"]
    assert (fresh.total, fresh.used, fresh.failed_builds) == (
        Resources(8, 16384, 100),
        Resources(0, 512, 0),
        2,
    )
    assert fresh.instances == set()


async def test_architecture_is_read_when_the_image_asks(engine_runtime: Runtime) -> None:
    await add_hosts(engine_runtime, "arm", cpu_info='{"arch": "aarch64"}')
    await add_hosts(engine_runtime, "plain")
    arm = spec(image_properties={"hw_architecture": "aarch64"})
    assert {n: h.architecture for n, h in (await load(engine_runtime, arm)).items()} == {
        "arm": "aarch64",
        "plain": "x86_64",
    }


async def test_hinted_instances_are_placed_on_their_hosts(engine_runtime: Runtime) -> None:
    await add_hosts(engine_runtime, "c1", "c2")
    here = instance(DEMO_PROJECT, DEMO_USER, host="c1", node="c1")
    deleted = instance(DEMO_PROJECT, DEMO_USER, host="c2", node="c2")
    async with engine_runtime.db.write() as session:
        session.add_all([here, deleted])
        await session.flush()
        deleted.deleted = deleted.id
    hints = spec(same_host=[here.uuid], different_host=[deleted.uuid])
    hosts = await load(engine_runtime, hints)
    assert (hosts["c1"].instances, hosts["c2"].instances) == ({here.uuid}, set())
    assert (await load(engine_runtime, spec()))["c1"].instances == set()


async def test_group_members_and_their_hosts_come_from_the_database(
    engine_runtime: Runtime,
) -> None:
    await add_hosts(engine_runtime, "c1", "c2")
    placed = [instance(DEMO_PROJECT, DEMO_USER, host=h, node=h) for h in ("c1", "c1", "c2")]
    scheduling = instance(DEMO_PROJECT, DEMO_USER, host="c2", node="c2")
    members = [*placed, scheduling]
    async with engine_runtime.db.write() as session:
        group = ServerGroup(
            uuid="6e6e6e6e-0000-4000-8000-000000000001",
            name="g",
            project_id=DEMO_PROJECT,
            user_id=DEMO_USER,
            policy="anti-affinity",
        )
        session.add_all([group, *members])
        await session.flush()
        session.add_all(
            [ServerGroupMember(group_id=group.id, instance_uuid=m.uuid) for m in members]
        )
    request = spec(
        instance_uuids=[scheduling.uuid],
        group=GroupSpec(uuid=group.uuid, policy="anti-affinity"),
    )
    hosts = await load(engine_runtime, request)
    assert request.group is not None
    assert request.group.members == [m.uuid for m in members]
    assert sorted(request.group.hosts) == ["c1", "c1", "c2"]
    assert hosts["c1"].instances == {placed[0].uuid, placed[1].uuid}
    assert hosts["c2"].instances == {placed[2].uuid}
    given = spec(
        group=GroupSpec(uuid=group.uuid, policy="anti-affinity", members=["x"], hosts=["c9"])
    )
    await load(engine_runtime, given)
    assert given.group is not None and (given.group.members, given.group.hosts) == (["x"], ["c9"])
