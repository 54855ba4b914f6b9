"""Competing schedulers never overcommit: exactly the room there is gets claimed."""

from __future__ import annotations

import asyncio

from cumulo.runtime import Runtime
from cumulo.scheduler import claims
from cumulo.scheduler.errors import NoValidHost
from cumulo.scheduler.messages import Selection
from tests.fakes import DEMO
from tests.unit.scheduler.conftest import (
    add_hosts,
    consumers_by_host,
    new_uuids,
    scheduler_workers,
    spec,
    used_by_host,
)

HOSTS = ("c1", "c2", "c3", "c4", "c5")
ROOM_FOR_FOUR = {"memory_mb": 4 * 512}


async def test_fifty_requests_for_room_of_twenty(engine_runtime: Runtime) -> None:
    await add_hosts(engine_runtime, *HOSTS, **ROOM_FOR_FOUR)
    uuids = new_uuids(50)
    async with scheduler_workers(engine_runtime, count=2) as workers:

        async def ask(uuid: str) -> list[list[Selection]] | NoValidHost:
            try:
                return await workers.client.select_destinations(DEMO, spec(), [uuid])
            except NoValidHost as exc:
                return exc

        outcomes = await asyncio.gather(*(ask(uuid) for uuid in uuids))
    assert sorted(workers.served) == [0, 1] and sum(workers.served.values()) == 50
    placed = {u: o[0][0].host for u, o in zip(uuids, outcomes, strict=True) if isinstance(o, list)}
    refused = [o for o in outcomes if isinstance(o, NoValidHost)]
    assert (len(placed), len(refused)) == (20, 30)
    assert {exc.format_message() for exc in refused} == {"No valid host was found. "}
    assert await used_by_host(engine_runtime) == {host: (4, 2048, 4) for host in HOSTS}
    held = await consumers_by_host(engine_runtime)
    assert {u: host for host, consumers in held.items() for u in consumers} == placed
    async with engine_runtime.db.read() as session:
        assert await claims.usage_mismatches(session) == []
