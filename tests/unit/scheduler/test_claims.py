"""Claims hold Placement's capacity rule and keep usage equal to allocations, on every engine."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from cumulo.db.models.hosts import ComputeNode
from cumulo.runtime import Runtime
from cumulo.scheduler import claims
from cumulo.scheduler.errors import ConsumerAllocationConflict
from cumulo.scheduler.host_state import Resources
from tests.compute_rows import instance
from tests.fakes import DEMO, DEMO_PROJECT, DEMO_USER
from tests.unit.scheduler.conftest import add_hosts, new_uuids

SMALL = {"vcpus": 2, "memory_mb": 1024, "local_gb": 10, "cpu_allocation_ratio": 1.0}


async def claim(runtime: Runtime, consumer: str, node: str, wanted: Resources) -> bool:
    return await claims.claim_in_new_transaction(
        runtime.db, consumer, node, wanted, DEMO_PROJECT, DEMO_USER
    )


async def node_row(runtime: Runtime, node: str) -> tuple[int, int, int, int]:
    n = ComputeNode
    async with runtime.db.read() as session:
        row = (
            await session.execute(
                select(n.used_vcpus, n.used_memory_mb, n.used_disk_gb, n.generation).where(
                    n.uuid == node
                )
            )
        ).one()
        return (row[0], row[1], row[2], row[3])


async def test_claims_until_full_and_refuses_without_writing(engine_runtime: Runtime) -> None:
    node = (await add_hosts(engine_runtime, "c1", **SMALL))["c1"]
    a, b, c = new_uuids(3)
    assert await claim(engine_runtime, a, node, Resources(1, 512, 5))
    assert await claim(engine_runtime, b, node, Resources(1, 512, 5))
    assert await node_row(engine_runtime, node) == (2, 1024, 10, 2)
    assert not await claim(engine_runtime, c, node, Resources(1, 1, 0))
    assert await node_row(engine_runtime, node) == (2, 1024, 10, 2)
    async with engine_runtime.db.read() as session:
        assert await claims.allocations_of(session, a) == {node: Resources(1, 512, 5)}
        assert await claims.allocations_of(session, c) == {}
        assert await claims.usage_mismatches(session) == []


async def test_allocation_ratio_and_reserved_set_the_capacity(engine_runtime: Runtime) -> None:
    nodes = await add_hosts(
        engine_runtime,
        "c1",
        vcpus=2,
        memory_mb=1024,
        local_gb=10,
        cpu_allocation_ratio=4.0,
        ram_allocation_ratio=1.5,
        reserved_memory_mb=512,
        reserved_disk_gb=4,
    )
    node = nodes["c1"]
    assert not await claim(engine_runtime, "too-many-cpus", node, Resources(9, 1, 1))
    assert not await claim(engine_runtime, "too-much-ram", node, Resources(1, 769, 1))
    assert not await claim(engine_runtime, "too-much-disk", node, Resources(1, 1, 7))
    assert await claim(engine_runtime, "exactly-full", node, Resources(8, 768, 6))
    assert await node_row(engine_runtime, node) == (8, 768, 6, 1)


async def test_a_zero_amount_is_not_checked_nor_allocated(engine_runtime: Runtime) -> None:
    node = (await add_hosts(engine_runtime, "c1", **SMALL))["c1"]
    assert await claim(engine_runtime, "fills-disk", node, Resources(1, 64, 10))
    assert await claim(engine_runtime, "from-volume", node, Resources(1, 64, 0))
    async with engine_runtime.db.read() as session:
        held = await claims.claims_held(session, ["from-volume"])
    assert held == {"from-volume": {node: Resources(1, 64, 0)}}
    assert await node_row(engine_runtime, node) == (2, 128, 10, 2)


async def test_release_gives_back_exactly_once(engine_runtime: Runtime) -> None:
    node = (await add_hosts(engine_runtime, "c1", **SMALL))["c1"]
    keep, gone = new_uuids(2)
    assert await claim(engine_runtime, keep, node, Resources(1, 256, 2))
    assert await claim(engine_runtime, gone, node, Resources(1, 512, 3))
    async with engine_runtime.db.write() as session:
        assert await claims.release(session, gone) == 3
    async with engine_runtime.db.write() as session:
        assert await claims.release(session, gone) == 0
    assert await node_row(engine_runtime, node) == (1, 256, 2, 3)
    assert await claim(engine_runtime, gone, node, Resources(1, 768, 8))


async def test_racing_releases_subtract_once(engine_runtime: Runtime) -> None:
    node = (await add_hosts(engine_runtime, "c1", **SMALL))["c1"]
    consumer = new_uuids(1)[0]
    assert await claim(engine_runtime, consumer, node, Resources(2, 1024, 10))

    async def release() -> int:
        async with engine_runtime.db.write() as session:
            return await claims.release(session, consumer)

    removed = await asyncio.gather(*(release() for _ in range(4)))
    assert sorted(removed) == [0, 0, 0, 3]
    assert (await node_row(engine_runtime, node))[:3] == (0, 0, 0)
    async with engine_runtime.db.read() as session:
        assert await claims.usage_mismatches(session) == []


async def test_a_consumer_holds_one_claim(engine_runtime: Runtime) -> None:
    nodes = await add_hosts(engine_runtime, "c1", "c2", **SMALL)
    consumer = new_uuids(1)[0]
    assert await claim(engine_runtime, consumer, nodes["c1"], Resources(1, 512, 1))
    assert await claim(engine_runtime, consumer, nodes["c1"], Resources(1, 512, 1))
    assert (await node_row(engine_runtime, nodes["c1"]))[:3] == (1, 512, 1)
    with pytest.raises(ConsumerAllocationConflict) as raised:
        await claim(engine_runtime, consumer, nodes["c2"], Resources(1, 512, 1))
    assert raised.value.code == 409
    assert nodes["c1"] in raised.value.format_message()


async def test_audit_finds_drifted_usage_and_orphans(engine_runtime: Runtime) -> None:
    nodes = await add_hosts(engine_runtime, "c1", "c2", **SMALL)
    live = instance(DEMO.project_id or "", DEMO.user_id or "")
    dead = instance(DEMO.project_id or "", DEMO.user_id or "")
    async with engine_runtime.db.write() as session:
        session.add_all([live, dead])
        await session.flush()
        dead.deleted = dead.id
    for consumer in (live.uuid, dead.uuid, "never-an-instance"):
        assert await claim(engine_runtime, consumer, nodes["c1"], Resources(0, 128, 0))
    async with engine_runtime.db.write() as session:
        await session.execute(
            update(ComputeNode).where(ComputeNode.uuid == nodes["c2"]).values(used_vcpus=1)
        )
    async with engine_runtime.db.read() as session:
        mismatches = await claims.usage_mismatches(session)
        orphans = await claims.orphan_allocations(session)
    assert [(m.host, m.recorded, m.allocated) for m in mismatches] == [
        ("c2", Resources(1, 0, 0), Resources(0, 0, 0))
    ]
    assert sorted((o.consumer_id, o.resource_class, o.used) for o in orphans) == sorted(
        [(dead.uuid, "MEMORY_MB", 128), ("never-an-instance", "MEMORY_MB", 128)]
    )
