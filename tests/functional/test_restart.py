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
