"""Volumes with the unmodified openstack CLI against `cumulo up`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.functional.cloud import CLIError, Cloud

pytestmark = pytest.mark.cli


def _wait(cloud: Cloud, name: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        shown: dict[str, object] = cloud.osc("volume", "show", name)
        if shown["status"] == status or time.monotonic() > deadline:
            return shown
        time.sleep(0.5)


def test_volume_lifecycle(cloud: Cloud, tmp_path: Path) -> None:
    created = cloud.osc("volume", "create", "--size", "1", "vol-a")
    assert (created["size"], created["name"]) == (1, "vol-a")
    assert _wait(cloud, "vol-a", "available")["bootable"] is False

    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 65536)
    image = cloud.osc(
        "image", "create", "--file", str(disk), "--disk-format", "raw",
        "--container-format", "bare", "tiny-raw",
    )  # fmt: skip
    cloud.osc("volume", "create", "--image", image["id"], "--size", "1", "vol-boot")
    booted = _wait(cloud, "vol-boot", "available")
    assert booted["bootable"] is True
    assert image["id"] in str(booted["volume_image_metadata"])

    cloud.osc("volume", "set", "--name", "vol-b", "vol-a", as_json=False)
    names = {row["Name"]: row for row in cloud.osc("volume", "list")}
    assert set(names) == {"vol-b", "vol-boot"}
    assert names["vol-b"]["Status"] == "available" and names["vol-b"]["Size"] == 1

    quota = cloud.osc("quota", "show")
    volumes = {row["Resource"]: row["Limit"] for row in quota}
    assert volumes["volumes"] == 10 and volumes["gigabytes"] == 1000

    # The demo project cannot see (or find) admin's volumes.
    assert cloud.osc("volume", "list", cloud="cumulo-demo") == []
    with pytest.raises(CLIError):
        cloud.osc("volume", "show", "vol-b", cloud="cumulo-demo")

    cloud.osc("volume", "delete", "vol-b", "vol-boot", as_json=False)
    deadline = time.monotonic() + 60
    while cloud.osc("volume", "list") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert cloud.osc("volume", "list") == []
