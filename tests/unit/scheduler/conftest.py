"""Compute hosts in the database and schedulers serving a memory bus, for the scheduler tests."""

from __future__ import annotations

import datetime
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from cumulo.config import BusSettings
from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.db.base import utcnow
from cumulo.db.models.hosts import Allocation, ComputeNode, ComputeService
from cumulo.rpc import Bus, Handler, Message, make_bus
from cumulo.runtime import Runtime
from cumulo.scheduler.manager import SchedulerManager
from cumulo.scheduler.request_spec import FlavorSpec, RequestSpec
from cumulo.scheduler.rpcapi import SchedulerAPI
from tests.compute_rows import add_host
from tests.databases import ENGINES, runtime_on
from tests.fakes import DEMO

TINY = FlavorSpec(vcpus=1, memory_mb=512, root_gb=1)


def spec(**fields: Any) -> RequestSpec:
    values: dict[str, Any] = {
        "instance_uuids": [],
        "project_id": DEMO.project_id,
        "user_id": DEMO.user_id,
        "flavor": TINY,
        **fields,
    }
    return RequestSpec(**values)


def new_uuids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


async def add_hosts(runtime: Runtime, *names: str, **node: Any) -> dict[str, str]:
    """Up, enabled hosts with ``node`` inventory; host name → node uuid."""
    async with runtime.db.write() as session:
        return {name: (await add_host(session, name, **node)).uuid for name in names}


async def last_heartbeat(runtime: Runtime, host: str, seconds_ago: float) -> None:
    when = utcnow() - datetime.timedelta(seconds=seconds_ago)
    async with runtime.db.write() as session:
        await session.execute(
            update(ComputeService).where(ComputeService.host == host).values(last_seen_up=when)
        )


async def used_by_host(runtime: Runtime) -> dict[str, tuple[int, int, int]]:
    node = ComputeNode
    async with runtime.db.read() as session:
        rows = await session.execute(
            select(node.host, node.used_vcpus, node.used_memory_mb, node.used_disk_gb)
        )
        return {host: (vcpus, memory, disk) for host, vcpus, memory, disk in rows}


async def consumers_by_host(runtime: Runtime) -> dict[str, set[str]]:
    async with runtime.db.read() as session:
        rows = await session.execute(
            select(ComputeNode.host, Allocation.consumer_id).join(
                ComputeNode, ComputeNode.uuid == Allocation.node_uuid
            )
        )
        found: dict[str, set[str]] = {}
        for host, consumer in rows:
            found.setdefault(host, set()).add(consumer)
        return found


@dataclass
class Workers:
    client: SchedulerAPI
    managers: list[SchedulerManager]
    served: Counter[int] = field(default_factory=Counter)
    """Requests each worker (by index) took off the queue."""


def _counted(handler: Handler, served: Counter[int], index: int) -> Handler:
    async def counting(ctx: RequestContext, msg: Any) -> Message | None:
        served[index] += 1
        return await handler(ctx, msg)

    return counting


@asynccontextmanager
async def scheduler_workers(runtime: Runtime, count: int = 1) -> AsyncIterator[Workers]:
    """``count`` schedulers serving the ``scheduler`` topic of one memory bus, each with
    a database pool and a bus of its own (as separate processes), and a client."""
    buses: list[Bus] = []
    extra: list[Database] = []
    client = make_bus(BusSettings(transport="memory", call_timeout=60.0))
    buses.append(client)
    workers = Workers(SchedulerAPI(client), [])
    try:
        for index in range(count):
            bus = make_bus(BusSettings(transport="memory", call_timeout=60.0))
            buses.append(bus)
            worker = runtime
            if index:
                db = Database(runtime.settings.database_url)
                extra.append(db)
                worker = Runtime(settings=runtime.settings, db=db, bus=bus)
            manager = SchedulerManager(worker)
            handlers = {
                cls: _counted(handler, workers.served, index)
                for cls, handler in manager.handlers().items()
            }
            await bus.serve(manager.topic, handlers)
            workers.managers.append(manager)
        yield workers
    finally:
        for bus in buses:
            await bus.close()
        for db in extra:
            await db.dispose()


@pytest.fixture(params=ENGINES)
async def engine_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime on a fresh, migrated database of each engine."""
    async with runtime_on(request.param, tmp_path) as runtime:
        yield runtime


@pytest.fixture
async def scheduler(runtime: Runtime) -> AsyncIterator[SchedulerAPI]:
    """One scheduler serving a memory bus, on the SQLite runtime."""
    async with scheduler_workers(runtime) as workers:
        yield workers.client
