"""Distributed mode: `cumulo db upgrade`, `cumulo bootstrap`, `cumulo serve api` with one
TOML config, on PostgreSQL and MariaDB with the RabbitMQ bus, used with the openstack CLI."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import fresh_database
from tests.functional.cloud import CUMULO, free_port, osc, run

pytestmark = [pytest.mark.cli, pytest.mark.rabbitmq]

ENGINES = [
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=ENGINES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with fresh_database(request.param, tmp_path) as url:
        yield url


def _write_config(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "cumulo.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n\n'
        "[api]\nport = 1\n\n"  # overridden from the environment below
        f'[database]\nurl = "{database_url}"\n\n'
        f'[bus]\ntransport = "rabbit"\nexchange = "cumulo-test-{uuid.uuid4().hex}"\n'
    )
    return config


def _wait_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "cumulo serve exited"
        try:
            if httpx.get(f"{url}/identity/v3").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("cumulo serve did not answer")


MANAGER_SERVICES = ("image", "network", "volume")
"""Each runs in its own process with its manager on the bus, as on separate hosts."""


def _serve(service: str, config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [CUMULO, "serve", service, "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),
    )


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """``serve api`` for every HTTP API, and image, network, volume managers beside it."""
    config = _write_config(tmp_path, database_url)
    port = free_port()
    env = {"CUMULO_API__PORT": str(port)}
    refused = run([CUMULO, "serve", "api", "--config", str(config)], check=False, env=env)
    assert refused.returncode == 1
    assert "run `cumulo db upgrade` first" in refused.stderr

    assert "database at revision" in run([CUMULO, "db", "upgrade", "--config", str(config)]).stdout
    clouds = tmp_path / "clouds.yaml"
    run([CUMULO, "bootstrap", "--config", str(config), "--clouds-yaml", str(clouds)], env=env)
    api = _serve("api", config, port, tmp_path / "api.log")
    others = [
        _serve(service, config, free_port(), tmp_path / f"{service}.log")
        for service in MANAGER_SERVICES
    ]
    try:
        _wait_serving(f"http://127.0.0.1:{port}", api)
        yield clouds, api
    finally:
        for process in (api, *others):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_serve_api_with_the_cli(served: tuple[Path, subprocess.Popen[bytes]]) -> None:
    clouds, process = served
    token = osc(clouds, "token", "issue")
    assert token["project_id"]
    assert "m1.tiny" in {f["Name"] for f in osc(clouds, "flavor", "list")}
    osc(clouds, "flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", "dist")
    assert osc(clouds, "flavor", "show", "dist", cloud="cumulo-demo")["ram"] == 64

    disk = clouds.parent / "disk.raw"
    disk.write_bytes(b"\0" * (1 << 20))
    image = osc(
        clouds,
        "image",
        "create",
        "--file",
        str(disk),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "dist-image",
        cloud="cumulo-demo",
    )
    assert image["status"] == "active"
    osc(clouds, "network", "create", "dist-net", cloud="cumulo-demo")
    osc(
        clouds,
        "subnet",
        "create",
        "--network",
        "dist-net",
        "--subnet-range",
        "10.9.0.0/24",
        "dist-subnet",
        cloud="cumulo-demo",
    )
    port = osc(clouds, "port", "create", "--network", "dist-net", "dist-port", cloud="cumulo-demo")
    assert port["fixed_ips"][0]["ip_address"].startswith("10.9.0.")

    # The volume manager in its own process copies the image the API process stored.
    volume = osc(
        clouds,
        "volume",
        "create",
        "--image",
        "dist-image",
        "--size",
        "1",
        "dist-vol",
        cloud="cumulo-demo",
    )
    deadline = time.monotonic() + 60
    while volume["status"] not in ("available", "error") and time.monotonic() < deadline:
        time.sleep(0.5)
        volume = osc(clouds, "volume", "show", "dist-vol", cloud="cumulo-demo")
    assert volume["status"] == "available"
    assert volume["bootable"] is True

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
