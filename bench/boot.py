"""Boots with the fake driver: boots/s, POST→ACTIVE and POST→202 latency, deletes/s,
database write transactions and bus messages per boot, scheduler decision time.

Embedded mode: ``cumulo up --background --driver fake --compute-hosts 10`` on a
scratch state directory, loaded over HTTP from this process (a second process,
as a client is). The per-boot transaction and message counts come from a
second, instrumented in-process cloud (counting needs to see inside). The
scheduler figures come from ``bench/scheduler_bench.py``. With ``--nova`` the
same run also runs real Nova's benchmark (``../shared/bench-nova/run.sh``)
and prints the ratios; without it the ratios use Nova's recorded figures.

    .venv/bin/python bench/boot.py [--n 200] [--concurrency 20] [--nova]

Prints a table and one ``CUMULO_BENCH_JSON {...}`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
BIN = Path(sys.executable).parent
NOVA_RUN = HERE.parent.parent / "shared" / "bench-nova" / "run.sh"
NOVA_RECORDED = {"boots_per_s": 2.55, "post_active_p50_ms": 384.0, "scheduler_1000_ms": 924.0}
"""Nova 34 with its fake driver on this machine (``../shared/bench-nova/README.md``, run 2)."""
COMPUTE = {"OpenStack-API-Version": "compute 2.100"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


@dataclass
class BootRun:
    name: str
    seconds: float = 0.0
    post_ms: list[float] = field(default_factory=list)
    active_ms: list[float] = field(default_factory=list)
    errors: int = 0
    ids: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.active_ms) / self.seconds if self.seconds else 0.0


class Client:
    def __init__(self, url: str, auth: dict[str, str]) -> None:
        self.url = url.rstrip("/")
        self.auth = auth
        self.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=100))
        self.headers: dict[str, str] = {}

    async def login(self) -> None:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.auth["username"],
                            "domain": {"name": "Default"},
                            "password": self.auth["password"],
                        }
                    },
                },
                "scope": {
                    "project": {"name": self.auth["project_name"], "domain": {"name": "Default"}}
                },
            }
        }
        r = await self.http.post(f"{self.url}/identity/v3/auth/tokens", json=body)
        r.raise_for_status()
        self.headers = {"X-Auth-Token": r.headers["X-Subject-Token"], **COMPUTE}

    async def prepare(self) -> dict[str, Any]:
        """An image and a network of the demo project; the m1.tiny flavor."""
        r = await self.http.post(
            f"{self.url}/image/v2/images",
            headers=self.headers,
            json={"name": "bench", "disk_format": "raw", "container_format": "bare"},
        )
        image = r.json()["id"]
        await self.http.put(
            f"{self.url}/image/v2/images/{image}/file",
            headers={**self.headers, "Content-Type": "application/octet-stream"},
            content=b"\0" * 4096,
        )
        r = await self.http.post(
            f"{self.url}/networking/v2.0/networks",
            headers=self.headers,
            json={"network": {"name": "bench"}},
        )
        network = r.json()["network"]["id"]
        await self.http.post(
            f"{self.url}/networking/v2.0/subnets",
            headers=self.headers,
            json={"subnet": {"network_id": network, "cidr": "10.8.0.0/16", "ip_version": 4}},
        )
        return {"imageRef": image, "flavorRef": "1", "networks": [{"uuid": network}]}

    async def boot(self, run: BootRun, server: dict[str, Any], index: int) -> None:
        body = {"server": {"name": f"{run.name}-{index}", **server}}
        start = time.perf_counter()
        r = await self.http.post(
            f"{self.url}/compute/v2.1/servers", headers=self.headers, json=body
        )
        run.post_ms.append((time.perf_counter() - start) * 1000)
        if r.status_code != 202:
            run.errors += 1
            return
        ident = r.json()["server"]["id"]
        run.ids.append(ident)
        while True:
            got = await self.http.get(
                f"{self.url}/compute/v2.1/servers/{ident}", headers=self.headers
            )
            status = got.json()["server"]["status"]
            if status == "ACTIVE":
                run.active_ms.append((time.perf_counter() - start) * 1000)
                return
            if status == "ERROR":
                run.errors += 1
                return
            await asyncio.sleep(0.005)

    async def boots(self, name: str, server: dict[str, Any], n: int, concurrency: int) -> BootRun:
        run = BootRun(name)
        queue = list(range(n))

        async def worker() -> None:
            while queue:
                await self.boot(run, server, queue.pop())

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - start
        return run

    async def delete_all(self, ids: list[str], concurrency: int) -> float:
        """Deletes per second: every DELETE sent, then waited until each server is gone."""
        queue = list(ids)

        async def worker() -> None:
            while queue:
                ident = queue.pop()
                await self.http.delete(
                    f"{self.url}/compute/v2.1/servers/{ident}", headers=self.headers
                )
                while (  # noqa: ASYNC110 (the client polls, as the CLI does)
                    await self.http.get(
                        f"{self.url}/compute/v2.1/servers/{ident}", headers=self.headers
                    )
                ).status_code != 404:
                    await asyncio.sleep(0.005)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(ids) / (time.perf_counter() - start)

    async def boot_and_delete(self, server: dict[str, Any], n: int, concurrency: int) -> float:
        run = BootRun("cycle")

        async def cycle(index: int) -> None:
            await self.boot(run, server, index)
            if run.ids:
                await self.delete_all([run.ids.pop()], 1)

        queue = list(range(n))

        async def worker() -> None:
            while queue:
                await cycle(queue.pop())

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - start)


def embedded(n: int, concurrency: int, hosts: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cumulo-boot-bench-") as scratch:
        state = Path(scratch)
        port = 18700 + (int(time.time()) % 1000)
        subprocess.run(
            [str(BIN / "cumulo"), "up", "--state-dir", str(state), "--port", str(port),
             "--background", "--driver", "fake", "--compute-hosts", str(hosts)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            clouds = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]
            url = f"http://127.0.0.1:{port}"
            return asyncio.run(_load(url, clouds, n, concurrency))
        finally:
            subprocess.run(
                [str(BIN / "cumulo"), "down", "--state-dir", str(state)],
                check=False, stdout=subprocess.DEVNULL,
            )  # fmt: skip


async def _load(url: str, clouds: dict[str, Any], n: int, concurrency: int) -> dict[str, Any]:
    client = Client(url, clouds["cumulo-demo"]["auth"])
    admin = Client(url, clouds["cumulo"]["auth"])
    await client.login()
    await admin.login()
    token = client.headers["X-Auth-Token"]
    project = (
        await client.http.get(
            f"{url}/identity/v3/auth/tokens",
            headers={**client.headers, "X-Subject-Token": token},
        )
    ).json()["token"]["project"]["id"]
    unlimited = {k: -1 for k in ("instances", "cores", "ram")}
    await admin.http.put(
        f"{url}/compute/v2.1/os-quota-sets/{project}",
        headers=admin.headers,
        json={"quota_set": unlimited},
    )
    await admin.http.put(
        f"{url}/networking/v2.0/quotas/{project}",
        headers=admin.headers,
        json={"quota": {"port": -1}},
    )
    server = await client.prepare()
    await client.boots("warmup", server, 5, 1)
    sequential = await client.boots("seq", server, n, 1)
    parallel = await client.boots("par", server, n, concurrency)
    fifty = await client.boots("c50", server, 50, 50)
    deletes = await client.delete_all(sequential.ids + parallel.ids + fifty.ids, concurrency)
    cycles = await client.boot_and_delete(server, 100, 10)
    await client.http.aclose()
    await admin.http.aclose()
    return {
        "sequential": _summary(sequential),
        "parallel": {**_summary(parallel), "concurrency": concurrency},
        "concurrent50": _summary(fifty),
        "deletes_per_s": round(deletes, 2),
        "boot_delete_per_s": round(cycles, 2),
    }


def _summary(run: BootRun) -> dict[str, Any]:
    return {
        "n": len(run.active_ms),
        "errors": run.errors,
        "boots_per_s": round(run.rate, 2),
        "post_active_p50_ms": round(pct(run.active_ms, 50), 1),
        "post_active_p95_ms": round(pct(run.active_ms, 95), 1),
        "post_202_p50_ms": round(pct(run.post_ms, 50), 1),
        "post_202_p95_ms": round(pct(run.post_ms, 95), 1),
    }


async def counts_per_boot(n: int = 20) -> dict[str, float]:
    """Write transactions and bus messages per boot, counted inside an in-process cloud."""
    from cumulo.db.engine import Database
    from cumulo.rpc.bus import Bus
    from tests.boot_cloud import boot_cloud

    counters = {"writes": 0, "messages": 0}
    real_write = Database.write

    def counting_write(self: Database):  # type: ignore[no-untyped-def]
        counters["writes"] += 1
        return real_write(self)

    originals = {name: getattr(Bus, name) for name in ("call", "cast", "fanout")}

    def counting(name: str) -> Any:
        real = originals[name]

        async def wrapper(self: Bus, *args: Any, **kwargs: Any) -> Any:
            counters["messages"] += 1
            return await real(self, *args, **kwargs)

        return wrapper

    with tempfile.TemporaryDirectory(prefix="cumulo-boot-count-") as scratch:
        async with boot_cloud(Path(scratch), compute={"quota_instances": -1}) as cloud:
            Database.write = counting_write  # type: ignore[method-assign]
            for name in originals:
                setattr(Bus, name, counting(name))
            try:
                for i in range(n):
                    uuid = await cloud.create(f"count-{i}")
                    await cloud.wait(uuid, "active")
            finally:
                Database.write = real_write  # type: ignore[method-assign]
                for name, real in originals.items():
                    setattr(Bus, name, real)
    return {k: round(v / n, 1) for k, v in counters.items()}


async def scheduler_figures() -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    import scheduler_bench

    figures: dict[str, float] = {}
    for hosts, runs in ((100, 20), (1000, 20), (10_000, 5), (100_000, 3)):
        result = await scheduler_bench.measure(hosts, runs)
        figures[str(hosts)] = round(float(result["p50_ms"]), 1)
    return figures


def run_nova() -> dict[str, float]:
    """Real Nova's seq1 N=50 and 1000-node scheduler figures, run now on this machine."""
    out = subprocess.run(
        ["bash", str(NOVA_RUN), "--phases", "seq1,sched", "--n", "50", "--sched-nodes", "1000"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    line = next(line for line in reversed(out.splitlines()) if line.startswith("NOVA_BENCH_JSON"))
    summary = json.loads(line.split(" ", 1)[1])["summary"]
    return {
        "boots_per_s": summary["seq1_n50_boots_per_s"],
        "post_active_p50_ms": summary["seq1_n50_post_to_active_p50_ms"],
        "scheduler_1000_ms": summary["sched_1000nodes_select_destinations_p50_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--nova", action="store_true", help="run real Nova's bench too")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "embedded": asyncio.run(embedded(args.n, args.concurrency, args.hosts))
    }
    results["per_boot"] = asyncio.run(counts_per_boot())
    results["scheduler_p50_ms"] = asyncio.run(scheduler_figures())
    nova = run_nova() if args.nova else NOVA_RECORDED
    results["nova"] = {**nova, "source": "measured now" if args.nova else "recorded"}
    seq = results["embedded"]["sequential"]
    results["ratio"] = {
        "boots_per_s": round(seq["boots_per_s"] / nova["boots_per_s"], 1),
        "post_active_p50": round(nova["post_active_p50_ms"] / seq["post_active_p50_ms"], 1),
        "scheduler_1000": round(nova["scheduler_1000_ms"] / results["scheduler_p50_ms"]["1000"], 1),
    }
    report(results)
    print("CUMULO_BENCH_JSON " + json.dumps(results, sort_keys=True))


def report(results: dict[str, Any]) -> None:
    emb = results["embedded"]
    print(f"{'embedded, fake driver':<28}{'boots/s':>9}{'→ACTIVE p50':>13}{'p95':>8}"
          f"{'→202 p50':>10}{'p95':>8}{'errors':>8}")  # fmt: skip
    for key in ("sequential", "parallel", "concurrent50"):
        s = emb[key]
        print(f"{key:<28}{s['boots_per_s']:>9}{s['post_active_p50_ms']:>13}"
              f"{s['post_active_p95_ms']:>8}{s['post_202_p50_ms']:>10}{s['post_202_p95_ms']:>8}"
              f"{s['errors']:>8}")  # fmt: skip
    print(f"deletes/s {emb['deletes_per_s']}   boot+delete/s {emb['boot_delete_per_s']}")
    per = results["per_boot"]
    print(f"per boot: {per['writes']} write transactions, {per['messages']} bus messages")
    sched = results["scheduler_p50_ms"]
    print("select+claim p50 ms: " + ", ".join(f"{h} hosts {ms}" for h, ms in sched.items()))
    nova, ratio = results["nova"], results["ratio"]
    print(f"Nova ({nova['source']}): {nova['boots_per_s']} boots/s, POST→ACTIVE p50 "
          f"{nova['post_active_p50_ms']} ms, scheduler@1000 "
          f"{nova['scheduler_1000_ms']} ms")  # fmt: skip
    print(f"cumulo vs Nova: boots/s x{ratio['boots_per_s']}, "
          f"POST→ACTIVE x{ratio['post_active_p50']}, "
          f"scheduler@1000 x{ratio['scheduler_1000']}")  # fmt: skip


if __name__ == "__main__":
    main()
