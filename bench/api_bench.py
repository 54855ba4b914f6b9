"""Requests/s and latency of token issue and flavor list against a running ``cumulo up``.

The load comes from this process (a second process on loopback); cumulo runs as
``cumulo up --background`` on a scratch state directory, unless ``--url`` and
``--clouds-yaml`` point at one already running. Every load is bounded in
request count and time. Prints a table and one ``CUMULO_BENCH_JSON {...}`` line.

    .venv/bin/python bench/api_bench.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from cumulo.clouds import password_auth_body

BIN = Path(sys.executable).parent


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def load(
    name: str,
    client: httpx.AsyncClient,
    request: httpx.Request,
    total: int,
    concurrency: int,
    max_seconds: float,
    expect: int,
) -> Result:
    latencies: list[float] = []
    errors = 0
    remaining = total
    deadline = time.monotonic() + max_seconds

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            start = time.perf_counter()
            response = await client.send(request)
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code != expect:
                errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, len(latencies), errors, time.perf_counter() - began, latencies)


async def measure(url: str, auth: dict[str, str], total: int, concurrency: int) -> list[Result]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        body = password_auth_body(auth)
        issue = client.build_request("POST", "/identity/v3/auth/tokens", json=body)
        first = await client.send(issue)
        first.raise_for_status()
        token = first.headers["X-Subject-Token"]
        flavors = client.build_request(
            "GET",
            "/compute/v2.1/flavors/detail",
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.61"},
        )
        for request in (issue, flavors):  # warm-up
            await client.send(request)
        return [
            await load("token issue", client, issue, total // 4, concurrency, 60, 201),
            await load("flavor list", client, flavors, total, concurrency, 60, 200),
        ]


def start_cloud(state_dir: Path, port: int) -> None:
    subprocess.run(
        [
            str(BIN / "cumulo"),
            "up",
            "--state-dir",
            str(state_dir),
            "--port",
            str(port),
            "--background",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def stop_cloud(state_dir: Path) -> None:
    subprocess.run(
        [str(BIN / "cumulo"), "down", "--state-dir", str(state_dir)],
        check=False,
        stdout=subprocess.DEVNULL,
    )


def report(results: list[Result], concurrency: int) -> None:
    print(f"{'request':<14}{'n':>7}{'errors':>8}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}")
    for r in results:
        print(
            f"{r.name:<14}{r.requests:>7}{r.errors:>8}{r.rate:>10.1f}"
            f"{statistics.median(r.latencies_ms):>9.2f}{r.percentile(95):>9.2f}"
        )
    figures = {
        r.name.replace(" ", "_"): {
            "requests": r.requests,
            "errors": r.errors,
            "req_per_s": round(r.rate, 1),
            "p50_ms": round(statistics.median(r.latencies_ms), 2),
            "p95_ms": round(r.percentile(95), 2),
        }
        for r in results
    }
    print(
        "CUMULO_BENCH_JSON " + json.dumps({"bench": "api", "concurrency": concurrency, **figures})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="flavor list requests (token issue gets a quarter of it)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=18799)
    parser.add_argument("--url", help="use this running cloud instead of starting one")
    parser.add_argument("--clouds-yaml", type=Path, help="its clouds.yaml (with --url)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cumulo-bench-") as scratch:
        state_dir = Path(scratch)
        url, clouds = args.url, args.clouds_yaml
        if url is None:
            start_cloud(state_dir, args.port)
            url, clouds = f"http://127.0.0.1:{args.port}", state_dir / "clouds.yaml"
        try:
            auth = yaml.safe_load(clouds.read_text())["clouds"]["cumulo"]["auth"]
            results = asyncio.run(measure(url, auth, args.requests, args.concurrency))
        finally:
            if args.url is None:
                stop_cloud(state_dir)
    report(results, args.concurrency)


if __name__ == "__main__":
    main()
