"""``cumulo audit``: what the cloud holds that no live server accounts for, and its repair.

It reads the database every service shares, so it needs no running service:

- a port bound to a server (``device_owner`` ``compute:…``) that is gone;
- a volume attachment of a server that is gone;
- a claim (allocations) of a consumer that is gone or holds no host any
  more, and a node whose usage is not the sum of its allocations;
- an instance stuck in a task state for longer than
  ``compute.stuck_task_timeout``;
- an instance directory (disks, config drive, console log of a libvirt guest)
  under ``compute.instances_path`` of a server that is gone.

With ``repair`` each finding is fixed with the services' own code: ports
are deallocated as a delete deallocates them, attachments deleted as the
volume service deletes them, claims released, usage recomputed, a stuck
build failed (ERROR with a fault) and a stuck delete finished.
"""

from __future__ import annotations

import asyncio
import datetime
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.compute import instances
from cumulo.compute.states import TaskState, VmState
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.hosts import Allocation, ComputeNode
from cumulo.db.models.instances import Instance
from cumulo.db.models.network import Network, Port
from cumulo.db.models.volume import VolumeAttachment
from cumulo.exception import CumuloError
from cumulo.network import allocation
from cumulo.network.agent import linux_net
from cumulo.network.agent.data_plane import run_dir, stray_taps
from cumulo.network.model import bridge_name, devname
from cumulo.network.port_store import GUEST_OWNER
from cumulo.runtime import Runtime
from cumulo.scheduler import claims
from cumulo.volume import attach

ADMIN = RequestContext(user_id="cumulo-audit", roles=("admin",))


@dataclass
class Finding:
    kind: str
    ident: str
    detail: str
    repair: Callable[[], Awaitable[None]] = field(repr=False)

    def line(self) -> str:
        return f"{self.kind:<12} {self.ident}  {self.detail}"


def _live_instances() -> Select[Any]:
    """Instances that may hold resources: live, and not an ERROR that gave its host back."""
    return select(Instance.uuid).where(instances.holds_resources())


async def find(runtime: Runtime) -> list[Finding]:
    """Every leak and stuck instance, each with the coroutine that repairs it."""
    found: list[Finding] = []
    found += await _leaked_ports(runtime)
    found += await _leaked_attachments(runtime)
    found += await _leaked_allocations(runtime)
    found += await _stuck_instances(runtime)
    found += await _orphaned_instance_dirs(runtime)
    found += await _data_plane(runtime)
    return found


async def _leaked_ports(runtime: Runtime) -> list[Finding]:
    live = select(Instance.uuid).where(Instance.deleted == 0)
    async with runtime.db.read() as session:
        rows = (
            await session.execute(
                select(Port.id, Port.device_id).where(
                    Port.device_owner.like("compute:%"), Port.device_id.not_in(live)
                )
            )
        ).all()

    def repair(instance_uuid: str) -> Callable[[], Awaitable[None]]:
        return lambda: allocation.deallocate_for_instance(runtime, ADMIN, instance_uuid)

    return [
        Finding("port", port_id, f"bound to server {device_id}, which is gone", repair(device_id))
        for port_id, device_id in rows
    ]


async def _leaked_attachments(runtime: Runtime) -> list[Finding]:
    live = select(Instance.uuid).where(Instance.deleted == 0)
    async with runtime.db.read() as session:
        rows = (
            await session.execute(
                select(
                    VolumeAttachment.id, VolumeAttachment.volume_id, VolumeAttachment.instance_uuid
                ).where(VolumeAttachment.instance_uuid.not_in(live))
            )
        ).all()

    def repair(attachment_id: str) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            await attach.delete_attachment(runtime, ADMIN, attachment_id)

        return work

    return [
        Finding(
            "attachment",
            attachment_id,
            f"of volume {volume_id} to server {instance_uuid}, which is gone",
            repair(attachment_id),
        )
        for attachment_id, volume_id, instance_uuid in rows
    ]


async def _leaked_allocations(runtime: Runtime) -> list[Finding]:
    async with runtime.db.read() as session:
        consumers = list(
            await session.scalars(
                select(Allocation.consumer_id)
                .where(Allocation.consumer_id.not_in(_live_instances()))
                .distinct()
            )
        )
        mismatched = await claims.usage_mismatches(session)

    def release(consumer: str) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            async with runtime.db.write() as session:
                await claims.release(session, consumer)

        return work

    def recount(node_uuid: str) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            async with runtime.db.write() as session:
                await _recount_usage(session, node_uuid)

        return work

    found = [
        Finding("allocation", c, "claim of a server that is gone or holds no host", release(c))
        for c in consumers
    ]
    found += [
        Finding(
            "usage",
            m.node_uuid,
            f"{m.host} records {m.recorded} used but its allocations sum to {m.allocated}",
            recount(m.node_uuid),
        )
        for m in mismatched
    ]
    return found


async def _recount_usage(session: AsyncSession, node_uuid: str) -> None:
    used = {
        rc: int(amount)
        for rc, amount in (
            await session.execute(
                select(Allocation.resource_class, func.sum(Allocation.used))
                .where(Allocation.node_uuid == node_uuid)
                .group_by(Allocation.resource_class)
            )
        ).all()
    }
    await session.execute(
        update(ComputeNode)
        .where(ComputeNode.uuid == node_uuid)
        .values(
            used_vcpus=used.get("VCPU", 0),
            used_memory_mb=used.get("MEMORY_MB", 0),
            used_disk_gb=used.get("DISK_GB", 0),
            generation=ComputeNode.generation + 1,
        )
    )


async def _stuck_instances(runtime: Runtime) -> list[Finding]:
    timeout = datetime.timedelta(seconds=runtime.settings.compute.stuck_task_timeout)
    cutoff = utcnow() - timeout
    async with runtime.db.read() as session:
        rows = (
            await session.execute(
                select(Instance.uuid, Instance.vm_state, Instance.task_state).where(
                    Instance.deleted == 0,
                    Instance.task_state.is_not(None),
                    func.coalesce(Instance.updated_at, Instance.created_at) < cutoff,
                )
            )
        ).all()

    def repair(uuid: str, task_state: str | None) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            await allocation.deallocate_for_instance(runtime, ADMIN, uuid)
            async with runtime.db.write() as session:
                await claims.release(session, uuid)
                if task_state == TaskState.DELETING:
                    await instances.soft_delete(session, uuid)
                    return
                await instances.update_instance(
                    session,
                    uuid,
                    {"vm_state": VmState.ERROR, "task_state": None, "host": None, "node": None},
                    expected_task_state=[task_state],
                )
                reason = f"the build was stuck in task state {task_state}"
                instances.add_fault(session, uuid, StuckInstance(reason=reason), None)

        return work

    return [
        Finding("stuck", uuid, f"{vm_state}/{task} for over {timeout}", repair(uuid, task))
        for uuid, vm_state, task in rows
    ]


async def _orphaned_instance_dirs(runtime: Runtime) -> list[Finding]:
    """Directories of ``instances_path`` named after no live instance (``_base``, the
    image cache, and hidden work directories are not instances)."""
    root = runtime.settings.instances_path
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    if not names:
        return []
    async with runtime.db.read() as session:
        live = set(
            await session.scalars(
                select(Instance.uuid).where(Instance.uuid.in_(names), Instance.deleted == 0)
            )
        )

    def repair(path: Path) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            await asyncio.to_thread(shutil.rmtree, path, True)

        return work

    return [
        Finding("files", name, f"instance directory {root / name}", repair(root / name))
        for name in sorted(set(names) - live)
    ]


async def _data_plane(runtime: Runtime) -> list[Finding]:
    """Where the cloud runs a data plane on this machine: guest ports bound to its hosts
    whose tap is missing, and taps on its networks' bridges that no port owns."""
    if not run_dir(runtime.settings).is_dir():
        return []
    async with runtime.db.read() as session:
        rows = await session.execute(select(Network.id, Network.mtu))
        networks: dict[str, int] = {network_id: mtu for network_id, mtu in rows}
        ports = list(await session.scalars(select(Port.id)))
        bound = list(
            await session.scalars(
                select(Port).where(
                    Port.host_id.in_(runtime.settings.compute_hosts),
                    Port.device_owner.startswith(GUEST_OWNER),
                )
            )
        )
    taps = await asyncio.to_thread(linux_net.list_taps)
    found: list[Finding] = []
    for port in bound:
        tap, bridge = devname(port.id), bridge_name(port.network_id)
        if tap not in taps:
            repair = _plug(port, tap, networks.get(port.network_id) or 1500)
            found.append(Finding("tap", port.id, f"{tap} is missing from {bridge}", repair))
    stray = await asyncio.to_thread(stray_taps, list(networks), {devname(p) for p in ports})
    for tap, bridge in stray.items():
        found.append(
            Finding("tap", tap, f"on {bridge}, owned by no port of the cloud", _unplug(tap))
        )
    return found


def _plug(port: Port, tap: str, mtu: int) -> Callable[[], Awaitable[None]]:
    """The tap again, on its bridge (a stopped guest finds it when started; a running one
    that lost its tap needs a hard reboot to reopen it)."""

    async def work() -> None:
        bridge = bridge_name(port.network_id)
        await asyncio.to_thread(linux_net.ensure_bridge, bridge, mtu)
        await asyncio.to_thread(linux_net.plug_tap, tap, bridge, port.mac_address, mtu)

    return work


def _unplug(tap: str) -> Callable[[], Awaitable[None]]:
    async def work() -> None:
        await asyncio.to_thread(linux_net.unplug_tap, tap)

    return work


class StuckInstance(CumuloError):
    message = "Repaired by cumulo audit: %(reason)s"


async def run(runtime: Runtime, repair: bool) -> list[Finding]:
    """Find, and with ``repair`` fix, every finding; returns what was found."""
    found = await find(runtime)
    if repair:
        for finding in found:
            await finding.repair()
    return found
