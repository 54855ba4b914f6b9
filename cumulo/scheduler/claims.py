"""Atomic resource claims, the Placement way, on every engine.

A claim is one conditional ``UPDATE`` of the node's ``used_*`` columns that
only matches while every requested resource still fits under Placement's
capacity rule, ``used + wanted <= (total - reserved) * allocation_ratio``,
followed by one ``Allocation`` row per resource class, in the caller's
transaction. Two schedulers claiming the last room of a node at the same
moment cannot both win: the database serialises the updates of the row and
re-checks the condition for the second one, which then matches nothing.

A release deletes the consumer's allocation rows one by one, with the node
row locked first, and subtracts from the node only what its own deletes
removed, so two releases racing (a delete and a failed build) subtract once.

Invariant (``usage_mismatches`` checks it): a node's ``used_*`` equals the sum
of its allocations.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import Database
from cumulo.db.base import utcnow
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.hosts import Allocation, ComputeNode
from cumulo.db.models.instances import Instance
from cumulo.scheduler.errors import ConsumerAllocationConflict
from cumulo.scheduler.host_state import Resources

VCPU = "VCPU"
MEMORY_MB = "MEMORY_MB"
DISK_GB = "DISK_GB"

NOTHING = Resources(0, 0, 0)


@dataclass(frozen=True, slots=True)
class AllocationRecord:
    consumer_id: str
    node_uuid: str
    resource_class: str
    used: int


@dataclass(frozen=True, slots=True)
class UsageMismatch:
    """A node whose recorded usage is not the sum of its allocations."""

    node_uuid: str
    host: str
    recorded: Resources
    allocated: Resources


def amounts(resources: Resources) -> dict[str, int]:
    """The non-zero amounts of ``resources`` by Placement resource class."""
    by_class = {VCPU: resources.vcpus, MEMORY_MB: resources.memory_mb, DISK_GB: resources.disk_gb}
    return {rc: amount for rc, amount in by_class.items() if amount}


def _resources(by_class: dict[str, int]) -> Resources:
    return Resources(by_class.get(VCPU, 0), by_class.get(MEMORY_MB, 0), by_class.get(DISK_GB, 0))


def _fits(wanted: tuple[Any, Any, Any]) -> list[ColumnElement[bool]]:
    """Placement's capacity rule for each resource asked for: ``wanted`` holds the vCPU,
    RAM and disk amounts (bound parameters), None for a resource not asked for."""
    node = ComputeNode
    vcpus, memory_mb, disk_gb = wanted
    rules = (
        (vcpus, node.used_vcpus, node.vcpus, node.reserved_vcpus, node.cpu_allocation_ratio),
        (
            memory_mb,
            node.used_memory_mb,
            node.memory_mb,
            node.reserved_memory_mb,
            node.ram_allocation_ratio,
        ),
        (
            disk_gb,
            node.used_disk_gb,
            node.local_gb,
            node.reserved_disk_gb,
            node.disk_allocation_ratio,
        ),
    )
    return [
        used + amount <= (total - reserved) * ratio
        for amount, used, total, reserved, ratio in rules
        if amount is not None
    ]


async def claim(
    session: AsyncSession,
    consumer_id: str,
    node_uuid: str,
    resources: Resources,
    project_id: str,
    user_id: str,
) -> bool:
    """Claim ``resources`` on the node for the consumer; False (nothing written) if they
    do not fit now.

    A consumer that already holds its claim on this node keeps it (True: a
    redelivered claim changes nothing); one holding a claim elsewhere raises
    ``ConsumerAllocationConflict``, since a consumer has one claim at a time.
    """
    held = (await run(session, _HELD, {"consumer_id": consumer_id})).scalar()
    if held is not None:
        if held == node_uuid:
            return True
        raise ConsumerAllocationConflict(consumer_id=consumer_id, node_uuid=held)
    wanted = amounts(resources)
    params = {
        "node_uuid": node_uuid,
        "wanted_vcpus": resources.vcpus,
        "wanted_memory_mb": resources.memory_mb,
        "wanted_disk_gb": resources.disk_gb,
    }
    statement = _claim_statement(
        bool(resources.vcpus), bool(resources.memory_mb), bool(resources.disk_gb)
    )
    claimed = await run(session, statement, params)
    if claimed.rowcount != 1:
        return False
    if wanted:
        now = utcnow()
        await run(
            session,
            _INSERT_ALLOCATION,
            [
                {
                    "consumer_id": consumer_id,
                    "node_uuid": node_uuid,
                    "resource_class": rc,
                    "used": amount,
                    "project_id": project_id,
                    "user_id": user_id,
                    "created_at": now,
                }
                for rc, amount in wanted.items()
            ],
        )
    return True


_HELD = Prepared(
    select(Allocation.node_uuid).where(Allocation.consumer_id == bindparam("consumer_id")).limit(1)
)
_INSERT_ALLOCATION = Prepared(insert(Allocation))


def _held_by(consumers: ColumnElement[bool]) -> Select[str, str, str, int]:
    return select(
        Allocation.consumer_id, Allocation.node_uuid, Allocation.resource_class, Allocation.used
    ).where(consumers)


_HELD_BY_ONE = Prepared(_held_by(Allocation.consumer_id == bindparam("consumer_id")))
"""``claims_held`` of one consumer (a build asks for one), built once."""


@functools.lru_cache(maxsize=8)
def _claim_statement(vcpus: bool, memory_mb: bool, disk_gb: bool) -> Prepared:
    """``claim``'s conditional update for the resources asked for (the amounts bound at
    execution), built once per shape: building and keying it costs more than running it."""
    wanted: tuple[Any, Any, Any] = (
        bindparam("wanted_vcpus") if vcpus else None,
        bindparam("wanted_memory_mb") if memory_mb else None,
        bindparam("wanted_disk_gb") if disk_gb else None,
    )
    return Prepared(
        update(ComputeNode)
        .where(ComputeNode.uuid == bindparam("node_uuid"), *_fits(wanted))
        .values(
            used_vcpus=ComputeNode.used_vcpus + bindparam("wanted_vcpus"),
            used_memory_mb=ComputeNode.used_memory_mb + bindparam("wanted_memory_mb"),
            used_disk_gb=ComputeNode.used_disk_gb + bindparam("wanted_disk_gb"),
            generation=ComputeNode.generation + 1,
        )
    )


async def claim_in_new_transaction(
    db: Database,
    consumer_id: str,
    node_uuid: str,
    resources: Resources,
    project_id: str,
    user_id: str,
) -> bool:
    """``claim`` in a short write transaction of its own."""
    async with db.write() as session:
        return await claim(session, consumer_id, node_uuid, resources, project_id, user_id)


async def release(session: AsyncSession, consumer_id: str) -> int:
    """Give back every claim of the consumer; the number of allocation rows removed.

    Idempotent, and safe against a concurrent release of the same consumer:
    each node's row is locked before its allocations are deleted, and only
    rows this call's own ``DELETE`` removed are subtracted.
    """
    rows = (await run(session, _RELEASED, {"consumer_id": consumer_id})).all()
    by_node: defaultdict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for ident, node_uuid, rc, used in rows:
        by_node[node_uuid].append((ident, rc, used))
    removed = 0
    for node_uuid in sorted(by_node):
        removed += await _release_on_node(session, node_uuid, by_node[node_uuid])
    return removed


async def _release_on_node(
    session: AsyncSession, node_uuid: str, rows: list[tuple[int, str, int]]
) -> int:
    await run(session, _LOCK_NODE, {"node_uuid": node_uuid})
    freed: dict[str, int] = defaultdict(int)
    removed = 0
    for ident, rc, used in rows:
        result = await run(session, _DELETE_ALLOCATION, {"allocation_id": ident})
        if result.rowcount:
            freed[rc] += used
            removed += 1
    if removed:
        back = _resources(freed)
        params = {
            "node_uuid": node_uuid,
            "freed_vcpus": back.vcpus,
            "freed_memory_mb": back.memory_mb,
            "freed_disk_gb": back.disk_gb,
        }
        await run(session, _GIVE_BACK, params)
    return removed


# Built once, run on every delete (see ``_claim_statement``).
_RELEASED = Prepared(
    select(Allocation.id, Allocation.node_uuid, Allocation.resource_class, Allocation.used)
    .where(Allocation.consumer_id == bindparam("consumer_id"))
    .order_by(Allocation.node_uuid)
)
_LOCK_NODE = Prepared(
    select(ComputeNode.id).where(ComputeNode.uuid == bindparam("node_uuid")).with_for_update()
)
_DELETE_ALLOCATION = Prepared(delete(Allocation).where(Allocation.id == bindparam("allocation_id")))
_GIVE_BACK = Prepared(
    update(ComputeNode)
    .where(ComputeNode.uuid == bindparam("node_uuid"))
    .values(
        used_vcpus=ComputeNode.used_vcpus - bindparam("freed_vcpus"),
        used_memory_mb=ComputeNode.used_memory_mb - bindparam("freed_memory_mb"),
        used_disk_gb=ComputeNode.used_disk_gb - bindparam("freed_disk_gb"),
        generation=ComputeNode.generation + 1,
    )
)


async def allocations_of(session: AsyncSession, consumer_id: str) -> dict[str, Resources]:
    """What the consumer holds, by node uuid (empty when it holds nothing)."""
    return (await claims_held(session, [consumer_id])).get(consumer_id, {})


async def claims_held(
    session: AsyncSession, consumer_ids: Iterable[str]
) -> dict[str, dict[str, Resources]]:
    """For each of the consumers that holds anything: node uuid → what it holds there."""
    ids = list(consumer_ids)
    if not ids:
        return {}
    if len(ids) == 1:
        rows: Iterable[Any] = await run(session, _HELD_BY_ONE, {"consumer_id": ids[0]})
    else:
        rows = await session.execute(_held_by(Allocation.consumer_id.in_(ids)))
    held: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for consumer_id, node_uuid, rc, used in rows:
        held[consumer_id][node_uuid][rc] = used
    return {
        consumer: {node: _resources(by_class) for node, by_class in nodes.items()}
        for consumer, nodes in held.items()
    }


def _sum_of(resource_class: str) -> ColumnElement[int]:
    picked = case((Allocation.resource_class == resource_class, Allocation.used), else_=0)
    return func.coalesce(func.sum(picked), 0)


async def usage_mismatches(session: AsyncSession) -> list[UsageMismatch]:
    """Nodes whose ``used_*`` differ from the sum of their allocations (for ``cumulo audit``)."""
    sums = (
        select(
            Allocation.node_uuid.label("node_uuid"),
            _sum_of(VCPU).label("vcpus"),
            _sum_of(MEMORY_MB).label("memory_mb"),
            _sum_of(DISK_GB).label("disk_gb"),
        )
        .group_by(Allocation.node_uuid)
        .subquery()
    )
    allocated = (
        func.coalesce(sums.c.vcpus, 0),
        func.coalesce(sums.c.memory_mb, 0),
        func.coalesce(sums.c.disk_gb, 0),
    )
    node = ComputeNode
    recorded = (node.used_vcpus, node.used_memory_mb, node.used_disk_gb)
    rows = await session.execute(
        select(node.uuid, node.host, *recorded, *allocated)
        .outerjoin(sums, sums.c.node_uuid == node.uuid)
        .where(or_(*(r != a for r, a in zip(recorded, allocated, strict=True))))
        .order_by(node.host, node.uuid)
    )
    return [
        UsageMismatch(
            node_uuid=row[0],
            host=row[1],
            recorded=Resources(int(row[2]), int(row[3]), int(row[4])),
            allocated=Resources(int(row[5]), int(row[6]), int(row[7])),
        )
        for row in rows
    ]


async def orphan_allocations(session: AsyncSession) -> list[AllocationRecord]:
    """Allocations whose consumer is not a live instance (for ``cumulo audit``)."""
    live = exists().where(and_(Instance.uuid == Allocation.consumer_id, Instance.deleted == 0))
    rows = await session.execute(
        select(
            Allocation.consumer_id, Allocation.node_uuid, Allocation.resource_class, Allocation.used
        )
        .where(~live)
        .order_by(Allocation.consumer_id, Allocation.node_uuid, Allocation.resource_class)
    )
    return [AllocationRecord(*row) for row in rows]
