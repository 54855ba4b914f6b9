"""Service rows (one per service process and host) and the one rule for whether one is up.

Deleting a ``nova-compute`` service deletes what the scheduler knows of its
host with it: the host's compute nodes and the allocations against them
(Nova deletes the nodes and their resource providers, allocations cascading).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.compute.errors import ServiceNotFound
from cumulo.compute.services.errors import HostBinaryNotFound
from cumulo.compute.services.ids import as_row_id
from cumulo.db.models.hosts import Allocation, ComputeNode, ComputeService
from cumulo.db.models.instances import Instance

COMPUTE = "nova-compute"
INTERNAL_ZONE = "internal"
"""The zone Nova shows for every service that is not a compute service."""


def service_is_up(service: ComputeService, now: datetime.datetime, down_time: float) -> bool:
    """Nova's servicegroup rule: a service forced down is down; otherwise it is up while
    its last heartbeat is at most ``down_time`` seconds from ``now`` (either way, as
    Nova tolerates clock skew).

    Nova falls back to ``created_at`` for a service that never reported; a
    cumulo service writes its first heartbeat with its row, so one without a
    heartbeat never reported and is down.
    """
    if service.forced_down or service.last_seen_up is None:
        return False
    return abs((now - service.last_seen_up).total_seconds()) <= down_time


async def list_services(
    session: AsyncSession, host: str | None = None, binary: str | None = None
) -> list[ComputeService]:
    stmt = select(ComputeService).order_by(ComputeService.id)
    if host:
        stmt = stmt.where(ComputeService.host == host)
    if binary:
        stmt = stmt.where(ComputeService.binary == binary)
    return list(await session.scalars(stmt))


async def get_service(session: AsyncSession, service_id: str, by_uuid: bool) -> ComputeService:
    """The service with uuid ``service_id`` (2.53+), or with that integer id (before)."""
    service = None
    if by_uuid:
        service = await session.scalar(
            select(ComputeService).where(ComputeService.uuid == service_id)
        )
    elif (row_id := as_row_id(service_id)) is not None:
        service = await session.get(ComputeService, row_id)
    if service is None:
        raise ServiceNotFound(service_id=service_id)
    return service


async def get_by_host_and_binary(session: AsyncSession, host: str, binary: str) -> ComputeService:
    service = await session.scalar(
        select(ComputeService).where(ComputeService.host == host, ComputeService.binary == binary)
    )
    if service is None:
        raise HostBinaryNotFound(host=host, binary=binary)
    return service


async def compute_services(
    session: AsyncSession, hosts: Iterable[str]
) -> dict[str, ComputeService]:
    """The ``nova-compute`` service of each of ``hosts`` that has one."""
    wanted = set(hosts)
    if not wanted:
        return {}
    rows = await session.scalars(
        select(ComputeService).where(
            ComputeService.binary == COMPUTE, ComputeService.host.in_(wanted)
        )
    )
    return {row.host: row for row in rows}


async def zones(
    session: AsyncSession, services: Iterable[ComputeService], default_zone: str
) -> dict[int, str]:
    """Each service's availability zone: its host's node's for compute, else "internal"."""
    services = list(services)
    hosts = {s.host for s in services if s.topic == "compute"}
    by_host: dict[str, str] = {}
    if hosts:
        rows = await session.execute(
            select(ComputeNode.host, ComputeNode.availability_zone)
            .where(ComputeNode.host.in_(hosts))
            .order_by(ComputeNode.id.desc())
        )
        by_host = {host: zone for host, zone in rows}
    return {
        s.id: by_host.get(s.host, default_zone) if s.topic == "compute" else INTERNAL_ZONE
        for s in services
    }


async def count_instances_on_host(session: AsyncSession, host: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Instance)
        .where(Instance.host == host, Instance.deleted == 0)
    )
    return count or 0


async def delete_service(session: AsyncSession, service: ComputeService) -> None:
    """Delete the service; a compute service takes its host's nodes and their allocations."""
    if service.binary == COMPUTE:
        nodes = select(ComputeNode.uuid).where(ComputeNode.host == service.host)
        await session.execute(delete(Allocation).where(Allocation.node_uuid.in_(nodes)))
        await session.execute(delete(ComputeNode).where(ComputeNode.host == service.host))
    await session.execute(delete(ComputeService).where(ComputeService.id == service.id))
