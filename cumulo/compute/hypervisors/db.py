"""Compute nodes as hypervisors: pages of them, name searches, and what runs on each.

A node's ``running_vms`` are the live instances on it; its
``current_workload`` those of them busy with I/O-heavy work (building,
rebuilding, resizing, migrating, snapshotting, backing up, rescuing,
unshelving), as Nova's resource tracker counts them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Case, Integer, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.compute import errors
from cumulo.compute.services.ids import as_row_id, is_uuid_like
from cumulo.compute.states import VmState
from cumulo.db.models.hosts import ComputeNode, ComputeService
from cumulo.db.models.instances import Instance

# Nova's task_state names; not every one of them is a ``TaskState`` of cumulo yet.
_IO_TASKS = (
    "resize_migrating",
    "rebuilding",
    "resize_prep",
    "image_snapshot",
    "image_backup",
    "rescuing",
    "unshelving",
)


@dataclass(frozen=True)
class NodeUsage:
    running_vms: int = 0
    current_workload: int = 0


async def list_nodes(
    session: AsyncSession, limit: int | None = None, marker: str | None = None
) -> list[ComputeNode]:
    """Nodes by id; ``marker`` is the previous page's last id (or uuid, from 2.53)."""
    stmt = select(ComputeNode).order_by(ComputeNode.id)
    if marker is not None:
        after = await _marker_id(session, marker)
        stmt = stmt.where(ComputeNode.id > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(await session.scalars(stmt))


async def _marker_id(session: AsyncSession, marker: str) -> int:
    """The id of the marker node, named by uuid or (as before 2.53) by id."""
    found = None
    if is_uuid_like(marker):
        found = await session.scalar(select(ComputeNode.id).where(ComputeNode.uuid == marker))
    elif (row_id := as_row_id(marker)) is not None:
        found = await session.scalar(select(ComputeNode.id).where(ComputeNode.id == row_id))
    if found is None:
        raise errors.MarkerNotFound(marker=marker)
    return found


async def get_node(session: AsyncSession, hypervisor_id: str, by_uuid: bool) -> ComputeNode:
    """The node with uuid ``hypervisor_id`` (2.53+), or with that integer id (before)."""
    node = None
    if by_uuid:
        node = await session.scalar(select(ComputeNode).where(ComputeNode.uuid == hypervisor_id))
    elif (row_id := as_row_id(hypervisor_id)) is not None:
        node = await session.get(ComputeNode, row_id)
    if node is None:
        raise errors.HypervisorNotFound(hypervisor_id=hypervisor_id)
    return node


async def search_nodes(session: AsyncSession, pattern: str) -> list[ComputeNode]:
    """Nodes whose hypervisor hostname contains ``pattern`` (SQL ``LIKE``, any case)."""
    stmt = (
        select(ComputeNode)
        .where(ComputeNode.hypervisor_hostname.ilike(f"%{pattern}%"))
        .order_by(ComputeNode.id)
    )
    return list(await session.scalars(stmt))


async def instances_on_hosts(
    session: AsyncSession, hosts: Iterable[str]
) -> dict[str, list[Instance]]:
    """The live instances of every project on each of ``hosts``."""
    wanted = set(hosts)
    found: dict[str, list[Instance]] = {host: [] for host in wanted}
    if wanted:
        stmt = (
            select(Instance)
            .where(Instance.host.in_(wanted), Instance.deleted == 0)
            .order_by(Instance.id)
        )
        for instance in await session.scalars(stmt):
            found[instance.host or ""].append(instance)
    return found


def _busy() -> Case[int]:
    io_heavy = or_(Instance.vm_state == VmState.BUILDING, Instance.task_state.in_(_IO_TASKS))
    return case((io_heavy, 1), else_=0)


async def node_usage(session: AsyncSession, nodes: Iterable[ComputeNode]) -> dict[int, NodeUsage]:
    """``running_vms`` and ``current_workload`` of each node, by node id."""
    by_name: dict[tuple[str | None, str | None], int] = {
        (n.host, n.hypervisor_hostname): n.id for n in nodes
    }
    usage = {node_id: NodeUsage() for node_id in by_name.values()}
    if not by_name:
        return usage
    stmt = (
        select(
            Instance.host,
            Instance.node,
            func.count(),
            func.coalesce(func.sum(_busy()), 0).cast(Integer),
        )
        .where(Instance.deleted == 0, Instance.node.in_({name for _, name in by_name}))
        .group_by(Instance.host, Instance.node)
    )
    for host, node, running, busy in await session.execute(stmt):
        node_id = by_name.get((host, node))
        if node_id is not None:
            usage[node_id] = NodeUsage(running_vms=running, current_workload=busy)
    return usage


async def enabled_compute_nodes(session: AsyncSession) -> list[ComputeNode]:
    """Nodes whose host's ``nova-compute`` service is enabled (what statistics sum)."""
    stmt = (
        select(ComputeNode)
        .join(
            ComputeService,
            (ComputeService.host == ComputeNode.host) & (ComputeService.binary == "nova-compute"),
        )
        .where(ComputeService.disabled.is_(False))
        .order_by(ComputeNode.id)
    )
    return list(await session.scalars(stmt))
