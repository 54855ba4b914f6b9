"""select_destinations over the bus: who gets chosen, alternates, groups, all or nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import Database
from cumulo.db.models.hosts import ComputeService
from cumulo.runtime import Runtime
from cumulo.scheduler import claims
from cumulo.scheduler.errors import NoValidHost
from cumulo.scheduler.host_state import Resources
from cumulo.scheduler.request_spec import GroupSpec
from cumulo.scheduler.rpcapi import SchedulerAPI
from tests.databases import runtime_on
from tests.fakes import DEMO
from tests.unit.scheduler.conftest import (
    add_hosts,
    consumers_by_host,
    last_heartbeat,
    new_uuids,
    scheduler_workers,
    spec,
    used_by_host,
)

ROOM_FOR_TWO = {"memory_mb": 1024}
NOT_ENOUGH = "No valid host was found. There are not enough hosts available."


async def disable(runtime: Runtime, *hosts: str) -> None:
    async with runtime.db.write() as session:
        await session.execute(
            update(ComputeService).where(ComputeService.host.in_(hosts)).values(disabled=True)
        )


async def test_down_and_disabled_hosts_are_never_chosen(
    runtime: Runtime, scheduler: SchedulerAPI
) -> None:
    await add_hosts(runtime, "dead", "off", memory_mb=65536)
    await add_hosts(runtime, "ok", memory_mb=4096)
    await last_heartbeat(runtime, "dead", seconds_ago=120)
    await disable(runtime, "off")
    uuids = new_uuids(8)
    for uuid in uuids:
        hosts = await scheduler.select_destinations(DEMO, spec(), [uuid])
        assert [s.host for s in hosts[0]] == ["ok"]
    with pytest.raises(NoValidHost, match=r"^No valid host was found. $"):
        await scheduler.select_destinations(DEMO, spec(), new_uuids(1))
    assert await consumers_by_host(runtime) == {"ok": set(uuids)}
    assert (await used_by_host(runtime))["ok"] == (8, 4096, 8)


async def test_claimed_host_first_then_unclaimed_alternates(
    runtime: Runtime, scheduler: SchedulerAPI
) -> None:
    for name, size in (("big", 8), ("mid", 4), ("small", 2), ("tiny", 1)):
        await add_hosts(runtime, name, vcpus=size, memory_mb=1024 * size, local_gb=50 * size)
    first, second = new_uuids(2)
    hosts = await scheduler.select_destinations(DEMO, spec(num_alternates=2), [first, second])
    assert [[s.host for s in per_instance] for per_instance in hosts] == [
        ["big", "mid", "small"],
        ["big", "mid", "small"],
    ]
    chosen = hosts[0][0]
    assert chosen.nodename == "big" and chosen.availability_zone == "nova"
    assert await consumers_by_host(runtime) == {"big": {first, second}}
    only = await scheduler.select_destinations(
        DEMO, spec(num_alternates=2), new_uuids(1), return_alternates=False
    )
    assert [s.host for s in only[0]] == ["big"]


async def test_later_instances_of_a_request_see_earlier_claims(
    runtime: Runtime, scheduler: SchedulerAPI
) -> None:
    await add_hosts(runtime, "a", "b", "c", **ROOM_FOR_TWO)
    uuids = new_uuids(6)
    hosts = await scheduler.select_destinations(DEMO, spec(num_alternates=0), uuids)
    assert sorted(per_instance[0].host for per_instance in hosts) == ["a", "a", "b", "b", "c", "c"]
    assert all(used == (2, 1024, 2) for used in (await used_by_host(runtime)).values())


async def test_anti_affinity_spreads_and_fails_when_out_of_hosts(
    runtime: Runtime, scheduler: SchedulerAPI
) -> None:
    await add_hosts(runtime, "a", "b", "c")
    group = GroupSpec(uuid="6e6e6e6e-0000-4000-8000-000000000002", policy="anti-affinity")
    three = new_uuids(3)
    hosts = await scheduler.select_destinations(DEMO, spec(group=group), three)
    assert sorted(per_instance[0].host for per_instance in hosts) == ["a", "b", "c"]
    group_of_four = GroupSpec(uuid="6e6e6e6e-0000-4000-8000-000000000003", policy="anti-affinity")
    four = new_uuids(4)
    with pytest.raises(NoValidHost) as raised:
        await scheduler.select_destinations(DEMO, spec(group=group_of_four), four)
    assert raised.value.format_message() == NOT_ENOUGH
    held = await consumers_by_host(runtime)
    assert set().union(*held.values()) == set(three)


async def test_affinity_keeps_members_together(runtime: Runtime, scheduler: SchedulerAPI) -> None:
    await add_hosts(runtime, "a", "b", "c")
    group = GroupSpec(uuid="6e6e6e6e-0000-4000-8000-000000000004", policy="affinity")
    hosts = await scheduler.select_destinations(DEMO, spec(group=group), new_uuids(3))
    assert len({per_instance[0].host for per_instance in hosts}) == 1


async def test_a_request_that_cannot_be_placed_whole_releases_its_claims(
    runtime: Runtime, scheduler: SchedulerAPI
) -> None:
    await add_hosts(runtime, "a", "b", **ROOM_FOR_TWO)
    with pytest.raises(NoValidHost) as raised:
        await scheduler.select_destinations(DEMO, spec(), new_uuids(5))
    assert raised.value.format_message() == NOT_ENOUGH
    assert raised.value.code == 500
    assert await consumers_by_host(runtime) == {}
    assert await used_by_host(runtime) == {"a": (0, 0, 0), "b": (0, 0, 0)}
    async with runtime.db.read() as session:
        assert await claims.usage_mismatches(session) == []


async def test_a_redelivered_request_keeps_its_claims(
    runtime: Runtime, scheduler: SchedulerAPI
) -> None:
    await add_hosts(runtime, "a", "b", **ROOM_FOR_TWO)
    uuids = new_uuids(2)
    first = await scheduler.select_destinations(DEMO, spec(num_alternates=0), uuids)
    again = await scheduler.select_destinations(DEMO, spec(num_alternates=0), uuids)
    assert [s[0].host for s in again] == [s[0].host for s in first]
    assert sum(used[1] for used in (await used_by_host(runtime)).values()) == 1024


class AnotherSchedulerWinsTheRace(Database):
    """A database where, right after the scheduler's snapshot is read, another scheduler
    claims the whole of ``node_uuid``."""

    def __init__(self, url: str, node_uuid: str) -> None:
        super().__init__(url)
        self.node_uuid = node_uuid
        self.raced = False

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with super().read() as session:
            yield session
        if not self.raced:
            self.raced = True
            everything = Resources(0, 4096, 0)
            assert await claims.claim_in_new_transaction(
                self, "other", self.node_uuid, everything, "p", "u"
            )


async def test_a_stale_snapshot_costs_a_failed_claim_not_a_placement(runtime: Runtime) -> None:
    nodes = await add_hosts(runtime, "roomy", memory_mb=4096)
    await add_hosts(runtime, "spare", **ROOM_FOR_TWO)
    racing = AnotherSchedulerWinsTheRace(runtime.settings.database_url, nodes["roomy"])
    stale = Runtime(settings=runtime.settings, db=racing)
    try:
        async with scheduler_workers(stale) as workers:
            uuid = new_uuids(1)[0]
            hosts = await workers.client.select_destinations(DEMO, spec(), [uuid])
    finally:
        await racing.dispose()
    assert [s.host for s in hosts[0]] == ["spare"]
    assert await consumers_by_host(runtime) == {"roomy": {"other"}, "spare": {uuid}}


async def test_weigher_multipliers_come_from_settings(tmp_path: Path) -> None:
    async with runtime_on("sqlite", tmp_path, scheduler={"ram_weight_multiplier": -1.0}) as rt:
        await add_hosts(rt, "big", memory_mb=8192)
        await add_hosts(rt, "small", memory_mb=2048)
        async with scheduler_workers(rt) as workers:
            hosts = await workers.client.select_destinations(DEMO, spec(), new_uuids(1))
        assert hosts[0][0].host == "small"
