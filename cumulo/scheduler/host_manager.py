"""Loading what the scheduler decides on: one ``HostState`` per compute node.

One Core ``SELECT`` of only the columns the filters and weighers read,
nodes joined with their ``nova-compute`` service, no ORM objects: the
scheduler reloads every node for every request (the database is the truth,
there is no cache to go stale), so this has to stay cheap at 10 000 nodes.
Whether a service is up is decided by the database (``last_seen_up >=
cutoff``), which spares parsing a timestamp per row. The instances on each
host, and the members of a server group, are read only for a request that
needs them.
"""

from __future__ import annotations

import datetime
import functools
import gc
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.config import Settings
from cumulo.db.base import utcnow
from cumulo.db.models.hosts import ComputeNode, ComputeService
from cumulo.db.models.instances import Instance, ServerGroup, ServerGroupMember
from cumulo.scheduler.host_state import HostState, Resources
from cumulo.scheduler.request_spec import RequestSpec

COMPUTE_BINARY = "nova-compute"
DEFAULT_ARCHITECTURE = "x86_64"

_NODE_COLUMNS = (
    ComputeNode.host,
    ComputeNode.hypervisor_hostname,
    ComputeNode.uuid,
    ComputeNode.availability_zone,
    ComputeNode.vcpus,
    ComputeNode.memory_mb,
    ComputeNode.local_gb,
    ComputeNode.reserved_vcpus,
    ComputeNode.reserved_memory_mb,
    ComputeNode.reserved_disk_gb,
    ComputeNode.used_vcpus,
    ComputeNode.used_memory_mb,
    ComputeNode.used_disk_gb,
    ComputeNode.cpu_allocation_ratio,
    ComputeNode.ram_allocation_ratio,
    ComputeNode.disk_allocation_ratio,
    ComputeNode.failed_builds,
    ComputeNode.hypervisor_type,
    ComputeService.disabled,
)


async def host_states(
    session: AsyncSession, settings: Settings, spec: RequestSpec
) -> list[HostState]:
    """Every compute node with its service's state; fills ``spec.group`` from the
    database when the caller left it empty."""
    cutoff = utcnow() - datetime.timedelta(seconds=settings.compute.service_down_time)
    wants_arch = bool(spec.image_properties.get("hw_architecture"))
    connection = await session.connection()
    result = await connection.execute(_nodes_query(wants_arch), {"cutoff": cutoff})
    builder = _Builder(wants_arch)
    with _collector_paused():
        hosts = [builder.host_state(row) for row in result.all()]
    if spec.group is not None:
        await _fill_group(session, spec)
    interesting = _instances_of_interest(spec)
    if interesting:
        await _fill_instances(session, hosts, interesting)
    return hosts


@functools.lru_cache(maxsize=2)
def _nodes_query(wants_arch: bool) -> Select[*tuple[Any, ...]]:
    """The nodes and their services, built once with the up-cutoff bound at execution.

    It stays on SQLAlchemy's Core path rather than ``db.fastpath``: at 10 000 nodes and
    more, SQLAlchemy's compiled row processing beats building the rows in Python."""
    up = and_(
        ~ComputeService.forced_down, ComputeService.last_seen_up >= bindparam("cutoff")
    ).label("up")
    extra = (ComputeNode.cpu_info,) if wants_arch else ()
    return select(*_NODE_COLUMNS, up, *extra).join(
        ComputeService,
        and_(ComputeService.host == ComputeNode.host, ComputeService.binary == COMPUTE_BINARY),
    )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while thousands of host states are built.

    The burst of long-lived objects would set off collections of the whole
    heap (half the load time at 10 000 nodes); none of them is cyclic, and
    they die with the request. No ``await`` happens inside, so no other
    coroutine runs while the collector is off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Builder:
    """``HostState``s from rows. A fleet has few hardware shapes and reserves alike on
    every node, so nodes share their (immutable) ``total`` and ``reserved``."""

    def __init__(self, wants_arch: bool) -> None:
        self.wants_arch = wants_arch
        self._shared: dict[tuple[int, int, int], Resources] = {}

    def _resources(self, vcpus: int, memory_mb: int, disk_gb: int) -> Resources:
        key = (vcpus, memory_mb, disk_gb)
        found = self._shared.get(key)
        if found is None:
            found = self._shared[key] = Resources(vcpus, memory_mb, disk_gb)
        return found

    def host_state(self, row: Sequence[Any]) -> HostState:
        (host, nodename, node_uuid, zone, vcpus, memory_mb, local_gb, r_vcpus, r_memory, r_disk,
         u_vcpus, u_memory, u_disk, cpu_ratio, ram_ratio, disk_ratio, failed, hv_type, disabled,
         up) = row[:20]  # fmt: skip
        return HostState(
            host=host,
            nodename=nodename,
            node_uuid=node_uuid,
            availability_zone=zone,
            total=self._resources(vcpus, memory_mb, local_gb),
            reserved=self._resources(r_vcpus, r_memory, r_disk),
            used=Resources(u_vcpus, u_memory, u_disk),
            cpu_allocation_ratio=cpu_ratio,
            ram_allocation_ratio=ram_ratio,
            disk_allocation_ratio=disk_ratio,
            enabled=not disabled,
            up=bool(up),
            failed_builds=failed,
            hypervisor_type=hv_type,
            architecture=_architecture(row[20]) if self.wants_arch else DEFAULT_ARCHITECTURE,
        )


def _architecture(cpu_info: str | None) -> str:
    """The ``arch`` of the node's ``cpu_info`` JSON (Nova's libvirt reports it there)."""
    try:
        info = json.loads(cpu_info or "{}")
    except ValueError:
        return DEFAULT_ARCHITECTURE
    arch = info.get("arch") if isinstance(info, dict) else None
    return str(arch) if arch else DEFAULT_ARCHITECTURE


async def _fill_group(session: AsyncSession, spec: RequestSpec) -> None:
    """The group's members and the hosts of those already placed, unless the spec has them.

    The instances being scheduled do not count as placed: whatever host they
    had before, they are about to get a new one.
    """
    group = spec.group
    assert group is not None
    if group.members and group.hosts:
        return
    rows = await session.execute(
        select(ServerGroupMember.instance_uuid, Instance.host)
        .join(ServerGroup, ServerGroup.id == ServerGroupMember.group_id)
        .outerjoin(
            Instance,
            and_(Instance.uuid == ServerGroupMember.instance_uuid, Instance.deleted == 0),
        )
        .where(ServerGroup.uuid == group.uuid)
        .order_by(ServerGroupMember.id)
    )
    members = rows.all()
    scheduling = set(spec.instance_uuids)
    if not group.members:
        group.members = [uuid for uuid, _host in members]
    if not group.hosts:
        group.hosts = [host for uuid, host in members if host and uuid not in scheduling]


def _instances_of_interest(spec: RequestSpec) -> set[str]:
    """The instances whose hosts a filter of this request looks at: the ``same_host`` and
    ``different_host`` hints and the group's members."""
    wanted = set(spec.same_host) | set(spec.different_host)
    if spec.group is not None:
        wanted.update(spec.group.members)
    return wanted - set(spec.instance_uuids)


async def _fill_instances(
    session: AsyncSession, hosts: list[HostState], instance_uuids: set[str]
) -> None:
    """Put each of ``instance_uuids`` that lives on a host into that host's ``instances``."""
    rows = await session.execute(
        select(Instance.host, Instance.uuid).where(
            Instance.uuid.in_(sorted(instance_uuids)),
            Instance.deleted == 0,
            Instance.host.is_not(None),
        )
    )
    by_host: dict[str, set[str]] = {}
    for host, uuid in rows:
        by_host.setdefault(host or "", set()).add(uuid)
    for state in hosts:
        found = by_host.get(state.host)
        if found:
            state.instances.update(found)
