"""The boot pipeline in distributed mode: every service a `cumulo serve` process (api, image,
network, volume, conductor, scheduler, three compute hosts), PostgreSQL, RabbitMQ."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cumulo.clouds import password_auth_body
from tests.databases import fresh_database
from tests.functional.cloud import CUMULO, free_port, osc, run
from tests.functional.test_distributed import _serve, _wait_serving, _write_config

pytestmark = [pytest.mark.cli, pytest.mark.rabbitmq, pytest.mark.postgresql]

DEMO = "cumulo-demo"
SERVICES = ("image", "network", "volume", "conductor", "scheduler")


def _serve_host(host: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [CUMULO, "serve", "compute-host", "--config", str(config), "--host", host],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),
    )


@pytest.fixture
async def database_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    """PostgreSQL: the unit tests run the claims and quotas on MariaDB too."""
    async with fresh_database("postgresql", tmp_path) as url:
        yield url


@contextmanager
def distributed_cloud(
    tmp_path: Path, database_url: str, hosts: int = 3
) -> Iterator[tuple[Path, Path, int]]:
    """Every service a process; yields the clouds.yaml, the config file and the API port."""
    config = _write_config(tmp_path, database_url)
    port = free_port()
    env = {"CUMULO_API__PORT": str(port)}
    run([CUMULO, "db", "upgrade", "--config", str(config)])
    clouds = tmp_path / "clouds.yaml"
    run([CUMULO, "bootstrap", "--config", str(config), "--clouds-yaml", str(clouds)], env=env)
    names = [f"compute-{i}" for i in range(1, hosts + 1)]
    api = _serve("api", config, port, tmp_path / "api.log")
    others = [_serve(s, config, free_port(), tmp_path / f"{s}.log") for s in SERVICES]
    others += [_serve_host(h, config, tmp_path / f"{h}.log") for h in names]
    try:
        _wait_serving(f"http://127.0.0.1:{port}", api)
        _wait_hosts(clouds, names)
        yield clouds, config, port
    finally:
        for process in (api, *others):
            if process.poll() is None:
                process.terminate()
        for process in (api, *others):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cloud(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, Path, int]]:
    with distributed_cloud(tmp_path, database_url) as served:
        yield served


def _wait_hosts(clouds: Path, hosts: list[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        services = osc(clouds, "compute", "service", "list")
        up = {s["Host"] for s in services if s["State"] == "up" and s["Binary"] == "nova-compute"}
        if up >= set(hosts):
            return
        time.sleep(0.5)
    raise AssertionError(f"compute hosts did not report: {services}")


def test_boot_spread_quota_delete_and_audit(cloud: tuple[Path, Path, int], tmp_path: Path) -> None:
    clouds, config, port = cloud
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 65536)
    osc(
        clouds, "image", "create", "--file", str(disk), "--disk-format", "raw",
        "--container-format", "bare", "--public", "tiny",
    )  # fmt: skip
    osc(clouds, "network", "create", "net", cloud=DEMO)
    osc(clouds, "subnet", "create", "--network", "net", "--subnet-range", "10.3.0.0/24", "sub",
        cloud=DEMO)  # fmt: skip

    created = osc(
        clouds, "server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--network", "net",
        "--wait", "web", cloud=DEMO,
    )  # fmt: skip
    assert created["status"] == "ACTIVE"

    group = osc(clouds, "server", "group", "create", "--policy", "anti-affinity", "g", cloud=DEMO)
    hosts = set()
    for i in range(3):
        server = osc(
            clouds, "server", "create", "--flavor", "m1.tiny", "--image", "tiny",
            "--network", "net", "--hint", f"group={group['id']}", "--wait", f"g{i}", cloud=DEMO,
        )  # fmt: skip
        hosts.add(osc(clouds, "server", "show", server["id"])["OS-EXT-SRV-ATTR:host"])
    assert hosts == {"compute-1", "compute-2", "compute-3"}

    demo = yaml.safe_load(clouds.read_text())["clouds"][DEMO]["auth"]
    project = osc(clouds, "token", "issue", cloud=DEMO)["project_id"]
    osc(clouds, "quota", "set", "--instances", "10", project, as_json=False)
    accepted = asyncio.run(_parallel_creates(f"http://127.0.0.1:{port}", demo, 100))
    # 4 servers existed: 6 more fit in the quota of 10.
    assert accepted == 6

    for row in osc(clouds, "server", "list", cloud=DEMO):
        osc(clouds, "server", "delete", "--wait", row["ID"], cloud=DEMO, as_json=False)
    audit = run([CUMULO, "audit", "--config", str(config)], check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr


async def _parallel_creates(url: str, auth: dict[str, Any], n: int) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        r = await client.post("/identity/v3/auth/tokens", json=password_auth_body(auth))
        headers = {
            "X-Auth-Token": r.headers["X-Subject-Token"],
            "OpenStack-API-Version": "compute 2.100",
        }
        net = (await client.get("/networking/v2.0/networks?name=net", headers=headers)).json()
        image = (await client.get("/image/v2/images?name=tiny", headers=headers)).json()
        body = {
            "server": {
                "name": "p",
                "imageRef": image["images"][0]["id"],
                "flavorRef": "1",
                "networks": [{"uuid": net["networks"][0]["id"]}],
            }
        }
        results = await asyncio.gather(
            *(client.post("/compute/v2.1/servers", headers=headers, json=body) for _ in range(n))
        )
        return sum(1 for r in results if r.status_code == 202)
