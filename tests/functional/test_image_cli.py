"""Images through the unmodified openstack CLI against a real ``cumulo up``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.functional.cloud import CLIError, Cloud

pytestmark = [
    pytest.mark.cli,
    pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img"),
]


def qcow2(path: Path) -> Path:
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", str(path), "64M"], check=True, capture_output=True
    )
    return path


def test_image_lifecycle(cloud: Cloud, tmp_path: Path) -> None:
    disk = qcow2(tmp_path / "disk.qcow2")
    created = cloud.osc(
        "image",
        "create",
        "--file",
        str(disk),
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        "cirros-cli",
    )
    assert created["status"] == "active"
    assert created["size"] == disk.stat().st_size
    assert created["disk_format"] == "qcow2"
    listed = {i["Name"]: i for i in cloud.osc("image", "list")}
    assert listed["cirros-cli"]["Status"] == "active"
    cloud.osc(
        "image",
        "set",
        "--property",
        "hw_disk_bus=virtio",
        "--tag",
        "x",
        "cirros-cli",
        as_json=False,
    )
    shown = cloud.osc("image", "show", "cirros-cli")
    assert shown["properties"]["hw_disk_bus"] == "virtio"
    assert shown["tags"] == ["x"]
    assert shown["virtual_size"] == 64 << 20
    saved = tmp_path / "saved.qcow2"
    cloud.osc("image", "save", "--file", str(saved), "cirros-cli", as_json=False)
    assert saved.read_bytes() == disk.read_bytes()
    cloud.osc("image", "delete", "cirros-cli", as_json=False)
    assert "cirros-cli" not in {i["Name"] for i in cloud.osc("image", "list")}


def test_protected_image_cannot_be_deleted(cloud: Cloud) -> None:
    cloud.osc("image", "create", "--protected", "keep-me")
    with pytest.raises(CLIError, match="protected"):
        cloud.osc("image", "delete", "keep-me", as_json=False)
    cloud.osc("image", "set", "--unprotected", "keep-me", as_json=False)
    cloud.osc("image", "delete", "keep-me", as_json=False)


def test_demo_sees_public_images_but_not_admins_private_ones(cloud: Cloud) -> None:
    cloud.osc("image", "create", "--private", "admin-only")
    cloud.osc("image", "create", "--public", "for-all")
    names = {i["Name"] for i in cloud.osc("image", "list", cloud="cumulo-demo")}
    assert "for-all" in names and "admin-only" not in names
    with pytest.raises(CLIError, match="No Image found for admin-only"):
        cloud.osc("image", "show", "admin-only", cloud="cumulo-demo")


def test_raw_data_declared_qcow2_is_refused(cloud: Cloud, tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\0" * (1 << 20))
    with pytest.raises(CLIError) as refused:
        cloud.osc(
            "image",
            "create",
            "--file",
            str(raw),
            "--disk-format",
            "qcow2",
            "--container-format",
            "bare",
            "liar",
        )
    assert "400" in str(refused.value)
    assert "data is raw but the image's disk_format is qcow2" in str(refused.value)
    # The SDK deletes an image whose upload failed; the record it created was left queued.
    assert "liar" not in {i["Name"] for i in cloud.osc("image", "list")}
