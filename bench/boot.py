"""Boots with the fake driver: boots/s, POST→ACTIVE and POST→202 latency, deletes/s,
boot+delete/s, database write transactions and bus messages per boot, and scheduler
decision time at 100 … 100 000 hosts; compared with real Nova's figures.

Measured the way ``../shared/bench-nova`` measures Nova, so the two compare:

- **embedded**: the whole cloud in this process on ``cumulo up``'s event loop
  (SQLite, in-memory bus, 10 fake compute hosts), driven over its real HTTP stack
  in-process (httpx's ASGI transport, as Nova's bench uses wsgi-intercept) with a
  real Keystone token;
- **distributed** (``--modes distributed``): ``cumulo serve`` processes on PostgreSQL and
  RabbitMQ (api, image, network, volume, conductor, scheduler, compute hosts), driven
  over TCP;

and in both, ACTIVE and gone are the moments ``instance.create.end`` and
``instance.delete.end`` are sent (the bench listens on the notification fanout),
not a polling loop that would steal the CPU it measures. With ``--nova`` the
same run also runs real Nova's bench and the ratios use its figures; without,
Nova's recorded figures on this machine.

    .venv/bin/python bench/boot.py [--n 200] [--concurrency 20] [--modes embedded,distributed]
                                   [--nova]

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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from cumulo.bootstrap import bootstrap  # noqa: E402
from cumulo.clouds import password_auth_body  # noqa: E402
from cumulo.config import BusSettings, Settings  # noqa: E402
from cumulo.context import RequestContext  # noqa: E402
from cumulo.db import Database, migrate  # noqa: E402
from cumulo.manager import MANAGERS, start_managers, stop_managers  # noqa: E402
from cumulo.notifications import TOPIC, Notification  # noqa: E402
from cumulo.rpc import Bus, make_bus  # noqa: E402
from cumulo.runtime import Runtime  # noqa: E402
from cumulo.server import embedded_loop, freeze_startup_heap  # noqa: E402

NOVA_RUN = HERE.parent.parent / "shared" / "bench-nova" / "run.sh"
NOVA_RECORDED = {"boots_per_s": 2.55, "post_active_p50_ms": 384.0, "scheduler_1000_ms": 924.0}
"""Nova 34 with its fake driver on this machine (``../shared/bench-nova/README.md``, run 2)."""
COMPUTE = {"OpenStack-API-Version": "compute 2.100"}
HOSTS = 10
DISTRIBUTED_HOSTS = 3
"""One process per host: 3 compute hosts beside the 7 other processes keep every pool of
PostgreSQL connections within its default ``max_connections`` (100)."""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


class Watcher:
    """The moments servers became ACTIVE (or ERROR) and were deleted, from the notifications."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], asyncio.Future[float]] = {}

    def future(self, uuid: str, kind: str) -> asyncio.Future[float]:
        key = (uuid, kind)
        if key not in self.events:
            self.events[key] = asyncio.get_running_loop().create_future()
        return self.events[key]

    async def on_notification(self, ctx: RequestContext, msg: Notification) -> None:
        kind = {
            "instance.create.end": "built",
            "instance.create.error": "built",
            "compute_task.build_instances.error": "built",
            "instance.delete.end": "deleted",
        }.get(msg.event_type)
        uuid = msg.payload.get("uuid") or msg.payload.get("instance_uuid")
        if kind and uuid:
            future = self.future(str(uuid), kind)
            if not future.done():
                future.set_result(time.perf_counter())

    async def listen(self, bus: Bus) -> None:
        await bus.serve(TOPIC, {Notification: self.on_notification}, fanout=True)


@dataclass
class BootRun:
    name: str
    seconds: float = 0.0
    post_ms: list[float] = field(default_factory=list)
    active_ms: list[float] = field(default_factory=list)
    errors: int = 0
    ids: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def failed(self, what: str) -> None:
        self.errors += 1
        if len(self.failures) < 3:
            self.failures.append(what)

    def summary(self) -> dict[str, Any]:
        return {
            "n": len(self.active_ms),
            "errors": self.errors,
            "failures": self.failures,
            "boots_per_s": round(len(self.active_ms) / self.seconds, 2) if self.seconds else 0,
            "post_active_p50_ms": round(pct(self.active_ms, 50), 1),
            "post_active_p95_ms": round(pct(self.active_ms, 95), 1),
            "post_202_p50_ms": round(pct(self.post_ms, 50), 1),
            "post_202_p95_ms": round(pct(self.post_ms, 95), 1),
        }


class Load:
    """The demo user booting and deleting servers through the compute API."""

    def __init__(self, http: httpx.AsyncClient, watcher: Watcher) -> None:
        self.http = http
        self.watcher = watcher
        self.headers: dict[str, str] = {}
        self.server: dict[str, Any] = {}
        self.settings: Settings | None = None

    async def login(self, username: str, password: str, project: str) -> None:
        auth = {"username": username, "password": password, "project_name": project}
        r = await self.http.post("/identity/v3/auth/tokens", json=password_auth_body(auth))
        r.raise_for_status()
        self.headers = {"X-Auth-Token": r.headers["X-Subject-Token"], **COMPUTE}

    async def prepare(self) -> None:
        """An image and a network of the demo project; the m1.tiny flavor."""
        r = await self.http.post(
            "/image/v2/images",
            headers=self.headers,
            json={"name": "bench", "disk_format": "raw", "container_format": "bare"},
        )
        image = r.json()["id"]
        await self.http.put(
            f"/image/v2/images/{image}/file",
            headers={**self.headers, "Content-Type": "application/octet-stream"},
            content=b"\0" * 4096,
        )
        r = await self.http.post(
            "/networking/v2.0/networks", headers=self.headers, json={"network": {"name": "b"}}
        )
        network = r.json()["network"]["id"]
        await self.http.post(
            "/networking/v2.0/subnets",
            headers=self.headers,
            json={"subnet": {"network_id": network, "cidr": "10.8.0.0/16", "ip_version": 4}},
        )
        self.server = {"imageRef": image, "flavorRef": "1", "networks": [{"uuid": network}]}

    async def boot(self, run: BootRun, index: int) -> None:
        body = {"server": {"name": f"{run.name}-{index}", **self.server}}
        start = time.perf_counter()
        r = await self.http.post("/compute/v2.1/servers", headers=self.headers, json=body)
        run.post_ms.append((time.perf_counter() - start) * 1000)
        if r.status_code != 202:
            run.failed(f"POST {r.status_code}: {r.text[:200]}")
            return
        uuid = r.json()["server"]["id"]
        done = await asyncio.wait_for(self.watcher.future(uuid, "built"), 120)
        shown = await self.http.get(f"/compute/v2.1/servers/{uuid}", headers=self.headers)
        status = shown.json().get("server", {}).get("status") if shown.status_code == 200 else None
        if status != "ACTIVE":
            run.failed(f"GET {shown.status_code} {status}: {shown.text[:200]}")
            return
        run.ids.append(uuid)
        run.active_ms.append((done - start) * 1000)

    async def boots(self, name: str, n: int, concurrency: int) -> BootRun:
        run = BootRun(name)
        await _workers(n, concurrency, lambda i: self.boot(run, i), run)
        return run

    async def delete(self, uuid: str) -> None:
        await self.http.delete(f"/compute/v2.1/servers/{uuid}", headers=self.headers)
        await asyncio.wait_for(self.watcher.future(uuid, "deleted"), 120)

    async def deletes(self, ids: list[str], concurrency: int) -> float:
        """Deletes per second: each DELETE sent, and waited until the server is gone."""
        run = BootRun("delete")
        await _workers(len(ids), concurrency, lambda i: self.delete(ids[i]), run)
        return len(ids) / run.seconds

    async def cycles(self, n: int, concurrency: int) -> float:
        """Boot+delete per second: each worker boots a server and deletes it, again and again."""
        run = BootRun("cycle")

        async def cycle(i: int) -> None:
            await self.boot(run, i)
            if run.ids:
                await self.delete(run.ids.pop())

        await _workers(n, concurrency, cycle, run)
        return n / run.seconds


async def _workers(n: int, concurrency: int, work: Callable[[int], Any], run: BootRun) -> None:
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            await work(queue.pop())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - start


async def measure(load: Load, n: int, concurrency: int) -> dict[str, Any]:
    await load.prepare()
    await load.boots("warmup", 5, 1)
    sequential = await load.boots("seq", n, 1)
    parallel = await load.boots("par", n, concurrency)
    fifty = await load.boots("c50", 50, 50)
    deletes = await load.deletes(sequential.ids + parallel.ids + fifty.ids, concurrency)
    cycles = await load.cycles(100, 10)
    return {
        "sequential": sequential.summary(),
        "parallel": {**parallel.summary(), "concurrency": concurrency},
        "concurrent50": fifty.summary(),
        "deletes_per_s": round(deletes, 2),
        "boot_delete_per_s": round(cycles, 2),
    }


# --- embedded ------------------------------------------------------------------------------


@asynccontextmanager
async def embedded_cloud(state: Path, **compute: Any) -> AsyncIterator[Load]:
    """The cloud in this process, the demo user's ``Load`` on it (``compute``: settings
    of the compute section; 10 fake hosts unless told otherwise)."""
    compute = {"hosts": [f"compute-{i}" for i in range(1, HOSTS + 1)], **compute}
    settings = Settings(state_dir=state, compute=compute)  # type: ignore[arg-type]
    await asyncio.to_thread(state.mkdir, parents=True, exist_ok=True)
    await migrate.upgrade(settings.database_url)
    runtime = Runtime.from_settings(settings)
    runtime.bus = make_bus(BusSettings(transport="memory"))
    creds = await bootstrap(runtime.db, settings, state / "clouds.yaml")
    managers = await start_managers(runtime, MANAGERS)
    watcher = Watcher()
    await watcher.listen(runtime.bus)
    from cumulo.api.app import build_app

    transport = httpx.ASGITransport(app=build_app(runtime))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://cumulo.bench", timeout=120
        ) as http:
            admin, load = Load(http, watcher), Load(http, watcher)
            load.settings = settings
            await admin.login("admin", creds.admin_password, "admin")
            await load.login("demo", creds.demo_password, "demo")
            await _unlimited(admin, http)
            freeze_startup_heap()  # as cumulo up does once it serves
            yield load
    finally:
        await stop_managers(managers)
        await runtime.close()


async def _unlimited(admin: Load, http: httpx.AsyncClient) -> None:
    r = await http.get("/identity/v3/projects?name=demo", headers=admin.headers)
    project = r.json()["projects"][0]["id"]
    quota = {"instances": -1, "cores": -1, "ram": -1}
    await http.put(
        f"/compute/v2.1/os-quota-sets/{project}",
        headers=admin.headers,
        json={"quota_set": quota},
    )
    await http.put(
        f"/networking/v2.0/quotas/{project}", headers=admin.headers, json={"quota": {"port": -1}}
    )


async def embedded(n: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cumulo-boot-bench-") as scratch:
        async with embedded_cloud(Path(scratch)) as load:
            figures = await measure(load, n, concurrency)
            figures["per_boot"] = await counts_per_boot(load, 20)
    return figures


async def counts_per_boot(load: Load, n: int) -> dict[str, float]:
    """Write transactions and bus messages (calls, casts, fanouts sent) per sequential boot."""
    counters = {"db_writes": 0, "bus_messages": 0}
    real_write = Database.write
    originals = {name: getattr(Bus, name) for name in ("call", "cast", "fanout")}

    def counting_write(self: Database) -> Any:
        counters["db_writes"] += 1
        return real_write(self)

    def counting(real: Any) -> Any:
        async def wrapper(self: Bus, *args: Any, **kwargs: Any) -> Any:
            counters["bus_messages"] += 1
            return await real(self, *args, **kwargs)

        return wrapper

    Database.write = counting_write  # type: ignore[method-assign]
    for name, real in originals.items():
        setattr(Bus, name, counting(real))
    try:
        await load.boots("count", n, 1)
    finally:
        Database.write = real_write  # type: ignore[method-assign]
        for name, real in originals.items():
            setattr(Bus, name, real)
    # The bench's own traffic: one GET after each boot (a read) and its token (cached).
    return {key: round(value / n, 1) for key, value in counters.items()}


# --- distributed ---------------------------------------------------------------------------


def distributed(n: int, concurrency: int) -> dict[str, Any]:
    from tests.databases import fresh_database
    from tests.functional.test_distributed_boot import distributed_cloud

    async def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="cumulo-boot-dist-") as scratch:
            async with fresh_database("postgresql", Path(scratch)) as url:
                with distributed_cloud(Path(scratch), url, hosts=DISTRIBUTED_HOSTS) as (
                    clouds,
                    config,
                    port,
                ):
                    import yaml

                    auth = yaml.safe_load(clouds.read_text())["clouds"]
                    settings = Settings(bus=_bus_of(config))  # type: ignore[arg-type]
                    bus = make_bus(settings.bus)
                    watcher = Watcher()
                    await watcher.listen(bus)
                    async with httpx.AsyncClient(
                        base_url=f"http://127.0.0.1:{port}", timeout=120
                    ) as http:
                        admin, load = Load(http, watcher), Load(http, watcher)
                        a, d = auth["cumulo"]["auth"], auth["cumulo-demo"]["auth"]
                        await admin.login(a["username"], a["password"], a["project_name"])
                        await load.login(d["username"], d["password"], d["project_name"])
                        await _unlimited(admin, http)
                        figures = await measure(load, n, concurrency)
                    await bus.close()
                    return figures

    return asyncio.run(run())


def _bus_of(config: Path) -> dict[str, Any]:
    import tomllib

    bus: dict[str, Any] = tomllib.loads(config.read_text())["bus"]
    return bus


# --- scheduler and Nova --------------------------------------------------------------------


async def scheduler_figures() -> dict[str, float]:
    import scheduler_bench

    figures: dict[str, float] = {}
    for hosts, runs in ((100, 20), (1000, 20), (10_000, 5), (100_000, 3)):
        result = await scheduler_bench.measure(hosts, runs)
        figures[str(hosts)] = round(float(result["median_ms"]), 1)
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--modes", default="embedded", help="embedded, distributed, or both (comma-separated)"
    )
    parser.add_argument("--nova", action="store_true", help="run real Nova's bench too")
    args = parser.parse_args()

    modes = args.modes.split(",")
    results: dict[str, Any] = {}
    if "embedded" in modes:
        with asyncio.Runner(loop_factory=embedded_loop) as runner:
            results["embedded"] = runner.run(embedded(args.n, args.concurrency))
    if "distributed" in modes:
        results["distributed"] = distributed(args.n, args.concurrency)
    results["scheduler_p50_ms"] = asyncio.run(scheduler_figures())
    nova = run_nova() if args.nova else NOVA_RECORDED
    results["nova"] = {**nova, "source": "measured now" if args.nova else "recorded"}
    seq = results[modes[0]]["sequential"]
    results["ratio_vs_nova"] = {
        "boots_per_s": round(seq["boots_per_s"] / nova["boots_per_s"], 1),
        "post_active_p50": round(nova["post_active_p50_ms"] / seq["post_active_p50_ms"], 1),
        "scheduler_1000": round(nova["scheduler_1000_ms"] / results["scheduler_p50_ms"]["1000"], 1),
    }
    report(results)
    print("CUMULO_BENCH_JSON " + json.dumps(results, sort_keys=True))


def report(results: dict[str, Any]) -> None:
    header = f"{'':<26}{'boots/s':>9}{'→ACTIVE p50':>13}{'p95':>8}{'→202 p50':>10}{'p95':>8}"
    for mode in ("embedded", "distributed"):
        if mode not in results:
            continue
        figures = results[mode]
        hosts = HOSTS if mode == "embedded" else DISTRIBUTED_HOSTS
        print(f"{mode} (fake driver, {hosts} hosts)")
        print(header + f"{'errors':>8}")
        for key in ("sequential", "parallel", "concurrent50"):
            s = figures[key]
            print(f"  {key:<24}{s['boots_per_s']:>9}{s['post_active_p50_ms']:>13}"
                  f"{s['post_active_p95_ms']:>8}{s['post_202_p50_ms']:>10}"
                  f"{s['post_202_p95_ms']:>8}{s['errors']:>8}")  # fmt: skip
            for failure in s["failures"]:
                print(f"    failed: {failure}")
        print(f"  deletes/s {figures['deletes_per_s']}, "
              f"boot+delete/s {figures['boot_delete_per_s']}")  # fmt: skip
        if "per_boot" in figures:
            per = figures["per_boot"]
            print(f"  per boot: {per['db_writes']} write transactions, "
                  f"{per['bus_messages']} bus messages")  # fmt: skip
    sched = results["scheduler_p50_ms"]
    print("select+claim p50 ms: " + ", ".join(f"{h} hosts {ms}" for h, ms in sched.items()))
    nova, ratio = results["nova"], results["ratio_vs_nova"]
    print(f"Nova ({nova['source']}): {nova['boots_per_s']} boots/s, POST→ACTIVE p50 "
          f"{nova['post_active_p50_ms']} ms, scheduler@1000 "
          f"{nova['scheduler_1000_ms']} ms")  # fmt: skip
    print(f"cumulo vs Nova: boots/s x{ratio['boots_per_s']}, "
          f"POST→ACTIVE x{ratio['post_active_p50']}, "
          f"scheduler@1000 x{ratio['scheduler_1000']}")  # fmt: skip


if __name__ == "__main__":
    main()
