"""A compute host's record of itself: its service row and heartbeat, its node's inventory,
and the check that a build arrives with a claim on this node.

The scheduler makes the claims (``cumulo.scheduler.claims``); the tracker
only reports what the host has and confirms, before a build uses the
resources, that the claim is really there (Nova's ``instance_claim``). A
host reports its inventory at start and with every heartbeat, so a changed
configuration (reserved memory, allocation ratios) reaches the scheduler
without a restart.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.config import Settings
from cumulo.db import Database
from cumulo.db.base import utcnow
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.hosts import Allocation, ComputeNode, ComputeService
from cumulo.virt.driver import ComputeDriver

BINARY = "nova-compute"


class ResourceTracker:
    def __init__(self, db: Database, settings: Settings, host: str, driver: ComputeDriver) -> None:
        self.db = db
        self.settings = settings
        self.host = host
        self.nodename = host
        self.driver = driver
        self.node_uuid: str | None = None

    async def register(self) -> None:
        """Make (or refresh) this host's service and node rows; a restart keeps the node uuid."""
        for _ in range(3):
            try:
                async with self.db.write() as session:
                    await self._register_service(session)
                    await self._update_node(session)
                return
            except IntegrityError:
                continue  # another process registered the same host at the same moment
        raise RuntimeError(f"could not register compute host {self.host}")

    async def _register_service(self, session: AsyncSession) -> None:
        service = await session.scalar(
            select(ComputeService).where(
                ComputeService.host == self.host, ComputeService.binary == BINARY
            )
        )
        if service is None:
            session.add(
                ComputeService(
                    host=self.host, binary=BINARY, topic="compute", last_seen_up=utcnow()
                )
            )
        else:
            service.last_seen_up = utcnow()

    async def _update_node(self, session: AsyncSession) -> None:
        compute = self.settings.compute
        resources = await self.driver.get_available_resource()
        inventory = {
            "vcpus": resources.vcpus,
            "memory_mb": resources.memory_mb,
            "local_gb": resources.local_gb,
            "reserved_vcpus": compute.reserved_host_cpus,
            "reserved_memory_mb": compute.reserved_host_memory_mb,
            "reserved_disk_gb": -(-compute.reserved_host_disk_mb // 1024),
            "cpu_allocation_ratio": compute.cpu_allocation_ratio,
            "ram_allocation_ratio": compute.ram_allocation_ratio,
            "disk_allocation_ratio": compute.disk_allocation_ratio,
            "hypervisor_type": resources.hypervisor_type,
            "hypervisor_version": resources.hypervisor_version,
            "host_ip": resources.host_ip,
            "cpu_info": resources.cpu_info,
            "availability_zone": compute.default_availability_zone,
        }
        node = await session.scalar(
            select(ComputeNode).where(ComputeNode.hypervisor_hostname == self.nodename)
        )
        if node is None:
            node = ComputeNode(
                uuid=str(uuid.uuid4()),
                host=self.host,
                hypervisor_hostname=self.nodename,
                **inventory,
            )
            session.add(node)
        else:
            changed = {k: v for k, v in inventory.items() if getattr(node, k) != v}
            if changed:
                await session.execute(
                    update(ComputeNode)
                    .where(ComputeNode.id == node.id)
                    .values(**changed, generation=ComputeNode.generation + 1)
                )
        self.node_uuid = node.uuid

    async def heartbeat(self) -> None:
        """Tell the scheduler this host is alive (Nova's ``servicegroup`` report)."""
        async with self.db.write() as session:
            await session.execute(
                update(ComputeService)
                .where(ComputeService.host == self.host, ComputeService.binary == BINARY)
                .values(
                    last_seen_up=utcnow(),
                    report_count=ComputeService.report_count + 1,
                )
            )
            await self._update_node(session)

    async def claim_is_held(self, session: AsyncSession, instance_uuid: str) -> bool:
        """Whether the scheduler's claim for the instance is on this node."""
        params = {"consumer_id": instance_uuid, "node_uuid": self.node_uuid}
        return (await run(session, _CLAIM_HELD, params)).first() is not None

    async def build_failed(self, session: AsyncSession) -> None:
        await session.execute(
            update(ComputeNode)
            .where(ComputeNode.uuid == self.node_uuid)
            .values(failed_builds=ComputeNode.failed_builds + 1)
        )

    async def build_succeeded(self, session: AsyncSession) -> None:
        await run(session, _BUILD_SUCCEEDED, {"node_uuid": self.node_uuid})


# Built once, run on every build: building and keying a statement costs more than running it.
_CLAIM_HELD = Prepared(
    select(Allocation.id)
    .where(
        Allocation.consumer_id == bindparam("consumer_id"),
        Allocation.node_uuid == bindparam("node_uuid"),
    )
    .limit(1)
)
_BUILD_SUCCEEDED = Prepared(
    update(ComputeNode)
    .where(ComputeNode.uuid == bindparam("node_uuid"), ComputeNode.failed_builds != 0)
    .values(failed_builds=0)
)
