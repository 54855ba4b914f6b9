"""Tokens and data survive a restart; SIGTERM stops cleanly with the database intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.functional.cloud import Cloud, free_port

pytestmark = pytest.mark.cli


def _token(cloud: Cloud) -> str:
    token: str = cloud.osc("token", "issue")["id"]
    return token


def test_tokens_data_and_passwords_survive_restart(tmp_path: Path) -> None:
    cloud = Cloud(tmp_path / "state", free_port())
    cloud.up()
    try:
        token = _token(cloud)
        cloud.osc("project", "create", "survivor")
        cloud.osc("keypair", "create", "k-survivor", as_json=False)
        clouds_before = cloud.clouds_yaml.read_text()
    finally:
        cloud.down()
    assert not (cloud.state_dir / "cumulo.pid").exists()
    with sqlite3.connect(cloud.state_dir / "cumulo.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    cloud.up()
    try:
        assert cloud.clouds_yaml.read_text() == clouds_before
        r = httpx.get(f"{cloud.url}/compute/v2.1/flavors", headers={"X-Auth-Token": token})
        assert r.status_code == 200
        r = httpx.get(
            f"{cloud.url}/identity/v3/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        )
        assert r.status_code == 200
        assert cloud.osc("project", "show", "survivor")["name"] == "survivor"
        assert "k-survivor" in {k["Name"] for k in cloud.osc("keypair", "list")}
    finally:
        cloud.down()


def test_second_cloud_on_same_state_dir_is_refused(cloud: Cloud) -> None:
    result = cloud.cumulo("up", "--port", str(free_port()), check=False)
    assert result.returncode != 0
    assert "already running" in result.stderr + result.stdout


async def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    import asyncio
    import os
    import signal
    import time

    import yaml

    cloud = Cloud(tmp_path / "state", free_port())
    cloud.up()
    pid = int((cloud.state_dir / "cumulo.pid").read_text())
    auth = yaml.safe_load(cloud.clouds_yaml.read_text())["clouds"]["cumulo"]["auth"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"id": "default"},
                        "password": auth["password"],
                    }
                },
            }
        }
    }
    try:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=cloud.url, limits=limits, timeout=60) as client:
            finished: list[float] = []

            async def issue() -> httpx.Response:
                response = await client.post("/identity/v3/auth/tokens", json=body)
                finished.append(time.monotonic())
                return response

            # Each token issue runs an argon2 verify, so 40 of them queue for a while. The
            # signal comes once the first has answered: by then every request has long been
            # sent, however loaded the machine is.
            pending = [asyncio.ensure_future(issue()) for _ in range(40)]
            while not finished:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGTERM)
            responses = await asyncio.gather(*pending)
        assert [r.status_code for r in responses] == [201] * 40
        assert max(finished) > killed_at  # some were still in flight when the signal came
        for _ in range(100):
            if not (cloud.state_dir / "cumulo.ready").exists():
                break
            await asyncio.sleep(0.1)
        assert not (cloud.state_dir / "cumulo.ready").exists()  # it exited through its cleanup
    finally:
        cloud.down()
    with sqlite3.connect(cloud.state_dir / "cumulo.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
