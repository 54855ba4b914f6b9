"""How long the scheduler takes to place one instance, by the number of compute hosts.

For each N it builds a migrated SQLite database in a scratch directory with N
compute services and nodes (bulk inserted, of mixed sizes and usage), then
times ``SchedulerManager.select_destinations`` for one instance: load every
host state, filter, weigh, and claim in the database. It prints the median
(and the load step alone) per N as a table and one ``CUMULO_BENCH_JSON`` line.

    .venv/bin/python bench/scheduler_bench.py [--hosts 100,1000,10000,100000] [--runs 7]

Goals: 50 ms at 1 000 hosts, 0.5 s at 10 000. ``measure`` is importable
(``bench/boot.py`` uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db import Database, migrate
from cumulo.db.base import utcnow
from cumulo.db.models.hosts import ComputeNode, ComputeService
from cumulo.runtime import Runtime
from cumulo.scheduler.host_manager import host_states
from cumulo.scheduler.manager import SchedulerManager
from cumulo.scheduler.messages import SelectDestinations
from cumulo.scheduler.request_spec import FlavorSpec, RequestSpec

PROJECT = "be" * 16
CTX = RequestContext(user_id="b" * 32, project_id=PROJECT, roles=("member",))
FLAVOR = FlavorSpec(vcpus=1, memory_mb=512, root_gb=1)
CHUNK = 5_000


def _rows(n_hosts: int, rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    now = utcnow()
    services, nodes = [], []
    for i in range(n_hosts):
        host = f"compute-{i:06d}"
        memory = rng.choice((32768, 65536, 131072))
        services.append(
            {
                "uuid": str(uuid.uuid4()),
                "host": host,
                "binary": "nova-compute",
                "topic": "compute",
                "disabled": i % 50 == 0,
                "forced_down": False,
                "last_seen_up": now,
                "report_count": 1,
                "version": 1,
                "created_at": now,
            }
        )
        nodes.append(
            {
                "uuid": str(uuid.uuid4()),
                "host": host,
                "hypervisor_hostname": host,
                "hypervisor_type": "fake",
                "vcpus": 32,
                "memory_mb": memory,
                "local_gb": 1000,
                "used_vcpus": rng.randrange(0, 64),
                "used_memory_mb": rng.randrange(0, memory // 2),
                "used_disk_gb": rng.randrange(0, 500),
                "failed_builds": 1 if i % 97 == 0 else 0,
                "created_at": now,
            }
        )
    return services, nodes


async def build_database(directory: Path, n_hosts: int, seed: int = 1) -> str:
    """A migrated SQLite database with ``n_hosts`` compute hosts; returns its URL."""
    url = f"sqlite:///{directory / f'scheduler-{n_hosts}.db'}"
    await migrate.upgrade(url)
    services, nodes = _rows(n_hosts, random.Random(seed))
    db = Database(url)
    try:
        async with db.write() as session:
            for start in range(0, n_hosts, CHUNK):
                await session.execute(insert(ComputeService), services[start : start + CHUNK])
                await session.execute(insert(ComputeNode), nodes[start : start + CHUNK])
    finally:
        await db.dispose()
    return url


def _spec() -> RequestSpec:
    return RequestSpec(instance_uuids=[], project_id=PROJECT, user_id=CTX.user_id, flavor=FLAVOR)


async def _time_ms(runtime: Runtime, manager: SchedulerManager) -> tuple[float, float]:
    """One request timed whole, and its host loading step alone (ms)."""
    instance = str(uuid.uuid4())
    msg = SelectDestinations(spec=_spec(), instance_uuids=[instance])
    start = time.perf_counter()
    await manager.select_destinations(CTX, msg)
    total = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    async with runtime.db.read() as session:
        await host_states(session, runtime.settings, _spec())
    load = (time.perf_counter() - start) * 1000
    return total, load


async def measure(n_hosts: int, runs: int) -> dict[str, float]:
    """Median and spread of ``select_destinations`` over ``runs`` requests with ``n_hosts``."""
    with tempfile.TemporaryDirectory(prefix="cumulo-sched-") as scratch:
        url = await build_database(Path(scratch), n_hosts)
        runtime = Runtime(settings=Settings(state_dir=Path(scratch)), db=Database(url))
        try:
            manager = SchedulerManager(runtime)
            await _time_ms(runtime, manager)  # warm the connection and caches
            timings = [await _time_ms(runtime, manager) for _ in range(runs)]
        finally:
            await runtime.close()
    totals = [t for t, _load in timings]
    return {
        "hosts": float(n_hosts),
        "runs": float(runs),
        "median_ms": statistics.median(totals),
        "min_ms": min(totals),
        "max_ms": max(totals),
        "load_median_ms": statistics.median(load for _t, load in timings),
    }


async def main(hosts: list[int], runs: int) -> None:
    results = []
    print(f"{'hosts':>8} {'runs':>5} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'load ms':>8}")
    for n in hosts:
        result = await measure(n, runs if n < 100_000 else max(1, runs // 3))
        results.append(result)
        print(
            f"{n:>8} {int(result['runs']):>5} {result['median_ms']:>10.1f} "
            f"{result['min_ms']:>8.1f} {result['max_ms']:>8.1f} {result['load_median_ms']:>8.1f}"
        )
    print("CUMULO_BENCH_JSON " + json.dumps({"scheduler": results}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", default="100,1000,10000,100000")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main([int(n) for n in args.hosts.split(",")], args.runs))
