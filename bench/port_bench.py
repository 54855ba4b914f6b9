"""Ports created and deleted per second through the Neutron API, with IPAM and the port quota.

In-process: the API app behind httpx's ASGI transport (no sockets, no token
service), on a migrated SQLite database in a scratch directory, or on the
database ``--database-url`` names (e.g. an empty PostgreSQL database). For each
concurrency level it creates ``--ports`` ports on one /16 subnet, then deletes
them, and prints ports/s and p50/p95 latency of each, as a table and one
``CUMULO_BENCH_JSON`` line.

    .venv/bin/python bench/port_bench.py [--ports 400] [--concurrency 1,8,32]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/cumulo_bench]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from cumulo.api.app import build_app
from cumulo.config import NetworkSettings, Settings
from cumulo.context import RequestContext
from cumulo.db import Database, migrate
from cumulo.runtime import Runtime

V2 = "/networking/v2.0"
HEADERS = {"X-Auth-Token": "bench"}
PROJECT = "be" * 16


class BenchTokens:
    """Every request is the bench project's member: no identity service in the loop."""

    async def validate(self, token: str, request_id: str) -> RequestContext:
        return RequestContext(
            user_id="b" * 32,
            user_name="bench",
            project_id=PROJECT,
            project_name="bench",
            roles=("member", "reader"),
            request_id=request_id,
        )


@dataclass
class Phase:
    name: str
    concurrency: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run_phase(
    name: str, concurrency: int, jobs: list[Callable[[], Awaitable[bool]]]
) -> Phase:
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(jobs))

    async def worker() -> None:
        nonlocal errors
        while queue:
            job = queue.pop()
            start = time.perf_counter()
            ok = await job()
            latencies.append((time.perf_counter() - start) * 1000)
            errors += not ok

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Phase(name, concurrency, time.perf_counter() - began, latencies, errors)


async def one_level(
    client: httpx.AsyncClient, net_id: str, ports: int, concurrency: int
) -> list[Phase]:
    created: list[str] = []

    async def create() -> bool:
        body = {"port": {"network_id": net_id}}
        resp = await client.post(f"{V2}/ports", json=body, headers=HEADERS)
        if resp.status_code == 201:
            created.append(resp.json()["port"]["id"])
        return resp.status_code == 201

    def deleter(port_id: str) -> Callable[[], Awaitable[bool]]:
        async def delete() -> bool:
            resp = await client.delete(f"{V2}/ports/{port_id}", headers=HEADERS)
            return resp.status_code == 204

        return delete

    made = await run_phase("create", concurrency, [create] * ports)
    gone = await run_phase("delete", concurrency, [deleter(p) for p in created])
    return [made, gone]


async def measure(url: str, state_dir: Path, ports: int, levels: list[int]) -> list[Phase]:
    await migrate.upgrade(url)
    settings = Settings(
        state_dir=state_dir,
        database={"url": url},
        network=NetworkSettings(quota_port=100_000),
    )
    runtime = Runtime(settings=settings, db=Database(url), token_validator=BenchTokens())
    transport = httpx.ASGITransport(app=build_app(runtime))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            net = await client.post(
                f"{V2}/networks", json={"network": {"name": "bench"}}, headers=HEADERS
            )
            net_id = net.json()["network"]["id"]
            subnet = {"network_id": net_id, "cidr": "10.128.0.0/16", "ip_version": 4}
            made = await client.post(f"{V2}/subnets", json={"subnet": subnet}, headers=HEADERS)
            made.raise_for_status()
            results = [p for c in levels for p in await one_level(client, net_id, ports, c)]
            await client.delete(f"{V2}/subnets/{made.json()['subnet']['id']}", headers=HEADERS)
            await client.delete(f"{V2}/networks/{net_id}", headers=HEADERS)
    finally:
        await runtime.close()
    return results


def report(results: list[Phase], engine: str) -> None:
    print(
        f"{'phase':<8}{'conc':>6}{'ports':>7}{'errors':>8}{'ports/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
    )
    for r in results:
        print(
            f"{r.name:<8}{r.concurrency:>6}{len(r.latencies_ms):>7}{r.errors:>8}{r.rate:>10.1f}"
            f"{statistics.median(r.latencies_ms):>9.2f}{r.percentile(95):>9.2f}"
        )
    figures = {
        f"{r.name}_c{r.concurrency}": {
            "ports": len(r.latencies_ms),
            "errors": r.errors,
            "ports_per_s": round(r.rate, 1),
            "p50_ms": round(statistics.median(r.latencies_ms), 2),
            "p95_ms": round(r.percentile(95), 2),
        }
        for r in results
    }
    print("CUMULO_BENCH_JSON " + json.dumps({"bench": "ports", "engine": engine, **figures}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ports", type=int, default=400, help="ports per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--database-url", help="an empty database to use instead of SQLite")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="cumulo-port-bench-") as scratch:
        state_dir = Path(scratch)
        url = args.database_url or f"sqlite:///{state_dir / 'cumulo.db'}"
        results = asyncio.run(measure(url, state_dir, args.ports, levels))
    report(results, url.split(":", 1)[0])


if __name__ == "__main__":
    main()
