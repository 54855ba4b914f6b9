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


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    config = _write_config(tmp_path, database_url)
    port = free_port()
    env = {"CUMULO_API__PORT": str(port)}
    refused = run([CUMULO, "serve", "api", "--config", str(config)], check=False, env=env)
    assert refused.returncode == 1
    assert "run `cumulo db upgrade` first" in refused.stderr

    assert "database at revision" in run([CUMULO, "db", "upgrade", "--config", str(config)]).stdout
    clouds = tmp_path / "clouds.yaml"
    run([CUMULO, "bootstrap", "--config", str(config), "--clouds-yaml", str(clouds)], env=env)
    import os

    process = subprocess.Popen(
        [CUMULO, "serve", "api", "--config", str(config)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "wb"),
    )
    try:
        _wait_serving(f"http://127.0.0.1:{port}", process)
        yield clouds, process
    finally:
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
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
