"""A small cloud in one test process: three fake compute hosts, an image, a network, a flavor.

``BootCloud`` drives the compute API as the demo user and answers the
questions every boot test asks: the server's state, its fault, and whether
anything it held (ports, attachments, claims) is left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from cumulo import audit
from cumulo.compute.manager import ComputeManager
from cumulo.conductor.manager import ConductorManager
from cumulo.config import BusSettings, Settings
from cumulo.db import Database, migrate
from cumulo.db.models.hosts import Allocation
from cumulo.db.models.instances import Instance, InstanceFault
from cumulo.db.models.network import Port
from cumulo.manager import MANAGERS, Manager, start_managers, stop_managers
from cumulo.rpc import make_bus
from cumulo.runtime import Runtime
from cumulo.virt.fake import FakeDriver
from tests.databases import api_client, fresh_database
from tests.fakes import STATIC_TOKENS, StaticTokenValidator

COMPUTE = {"OpenStack-API-Version": "compute 2.100"}
DEMO = {"X-Auth-Token": "demo-token", **COMPUTE}
ADMIN = {"X-Auth-Token": "admin-token", **COMPUTE}
HOSTS = ["compute-1", "compute-2", "compute-3"]


@dataclass
class BootCloud:
    runtime: Runtime
    api: httpx.AsyncClient
    managers: list[Manager]
    image_id: str = ""
    network_id: str = ""
    flavor_id: str = ""

    def computes(self) -> list[ComputeManager]:
        return [m for m in self.managers if isinstance(m, ComputeManager)]

    def conductor(self) -> ConductorManager:
        return next(m for m in self.managers if isinstance(m, ConductorManager))

    async def prepare(self) -> None:
        r = await self.api.post(
            "/image/v2/images",
            headers=DEMO,
            json={"name": "img", "disk_format": "raw", "container_format": "bare"},
        )
        self.image_id = r.json()["id"]
        r = await self.api.put(
            f"/image/v2/images/{self.image_id}/file",
            headers={**DEMO, "Content-Type": "application/octet-stream"},
            content=b"\0" * 4096,
        )
        assert r.status_code == 204, r.text
        r = await self.api.post(
            "/networking/v2.0/networks", headers=DEMO, json={"network": {"name": "net"}}
        )
        self.network_id = r.json()["network"]["id"]
        r = await self.api.post(
            "/networking/v2.0/subnets",
            headers=DEMO,
            json={
                "subnet": {"network_id": self.network_id, "cidr": "10.0.0.0/24", "ip_version": 4}
            },
        )
        assert r.status_code == 201, r.text
        self.flavor_id = await self.flavor("m1.tiny", vcpus=1, ram=512, disk=1)

    async def flavor(self, name: str, *, vcpus: int, ram: int, disk: int) -> str:
        r = await self.api.post(
            "/compute/v2.1/flavors",
            headers=ADMIN,
            json={"flavor": {"name": name, "vcpus": vcpus, "ram": ram, "disk": disk}},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["flavor"]["id"])

    def server_body(self, name: str = "vm", **server: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": name,
            "imageRef": self.image_id,
            "flavorRef": self.flavor_id,
            "networks": [{"uuid": self.network_id}],
        }
        body.update(server)
        return {"server": body}

    async def create(self, name: str = "vm", headers: dict[str, str] = DEMO, **server: Any) -> str:
        r = await self.api.post(
            "/compute/v2.1/servers", headers=headers, json=self.server_body(name, **server)
        )
        assert r.status_code == 202, r.text
        return str(r.json()["server"]["id"])

    async def instance(self, uuid: str) -> Instance:
        async with self.runtime.db.read() as session:
            row = await session.scalar(select(Instance).where(Instance.uuid == uuid))
        assert row is not None
        return row

    async def wait(self, uuid: str, *vm_states: str, seconds: float = 10.0) -> Instance:
        """Wait until the server rests in one of ``vm_states`` (no task) or is deleted."""
        async with asyncio.timeout(seconds):
            while True:
                row = await self.instance(uuid)
                if row.vm_state in vm_states and row.task_state is None:
                    return row
                if "deleted" in vm_states and row.deleted:
                    return row
                await asyncio.sleep(0.01)

    async def fault(self, uuid: str) -> InstanceFault | None:
        async with self.runtime.db.read() as session:
            return await session.scalar(
                select(InstanceFault)
                .where(InstanceFault.instance_uuid == uuid)
                .order_by(InstanceFault.id.desc())
            )

    async def ports_of(self, uuid: str) -> int:
        async with self.runtime.db.read() as session:
            count = await session.scalar(
                select(func.count()).select_from(Port).where(Port.device_id == uuid)
            )
        return int(count or 0)

    async def allocations_of(self, uuid: str) -> int:
        async with self.runtime.db.read() as session:
            count = await session.scalar(
                select(func.count()).select_from(Allocation).where(Allocation.consumer_id == uuid)
            )
        return int(count or 0)

    async def leaks(self) -> list[str]:
        """What ``cumulo audit`` would report, as its lines."""
        return [finding.line() for finding in await audit.find(self.runtime)]


@asynccontextmanager
async def boot_cloud(
    tmp_path: Path, engine: str = "sqlite", **settings: Any
) -> AsyncIterator[BootCloud]:
    """Every manager on a memory bus, three fake hosts, migrated ``engine``, demo resources."""
    compute = {"hosts": HOSTS, "network_allocate_backoff_cap": 0.01, **settings.pop("compute", {})}
    fake = {"vcpus": 8, "memory_mb": 8192, "local_gb": 100, **settings.pop("fake_driver", {})}
    FakeDriver.clear_injections()
    async with fresh_database(engine, tmp_path) as url:
        await migrate.upgrade(url)
        runtime = Runtime(
            settings=Settings(
                state_dir=tmp_path,
                database={"url": url},  # type: ignore[arg-type]
                compute=compute,  # type: ignore[arg-type]
                fake_driver=fake,  # type: ignore[arg-type]
                **settings,
            ),
            db=Database(url),
            token_validator=StaticTokenValidator(STATIC_TOKENS),
        )
        runtime.bus = make_bus(BusSettings(transport="memory", call_timeout=10.0))
        managers = await start_managers(runtime, MANAGERS)
        try:
            async with api_client(runtime) as api:
                cloud = BootCloud(runtime, api, managers)
                await cloud.prepare()
                yield cloud
        finally:
            FakeDriver.clear_injections()
            await stop_managers(managers)
            await runtime.close()
