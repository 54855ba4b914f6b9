"""The config drive volume: label ``config-2``, every file readable back under its real name."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cumulo.network.model import NetworkInfo
from cumulo.virt.configdrive import (
    ConfigDriveError,
    Namespace,
    make_config_drive,
    read_config_drive,
)
from cumulo.virt.instance_metadata import InstanceMetadata, MetadataSource
from tests.compute_rows import instance

FILES = {
    "openstack/latest/meta_data.json": b'{"uuid": "b65cee2f"}',
    "openstack/2016-10-06/vendor_data2.json": b'{"static": {}}',
    "openstack/latest/user_data": bytes(range(256)) * 64,
    "ec2/2009-04-04/meta-data.json": b"{}",
    "openstack/content/0000": b"",
}


@pytest.mark.parametrize("namespace", ["rock_ridge", "joliet", "iso9660"])
def test_files_read_back_byte_for_byte_under_their_names(
    tmp_path: Path, namespace: Namespace
) -> None:
    drive = tmp_path / "disk.config"
    make_config_drive(drive, FILES)
    found = read_config_drive(drive, namespace)
    assert found.label == "config-2"
    assert found.files == FILES


@pytest.mark.skipif(shutil.which("blkid") is None, reason="blkid is not installed")
def test_blkid_sees_an_iso9660_volume_labelled_config_2(tmp_path: Path) -> None:
    drive = tmp_path / "disk.config"
    make_config_drive(drive, FILES)
    probe = subprocess.run(
        ["blkid", "-p", "-o", "export", str(drive)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    fields = dict(line.split("=", 1) for line in probe.stdout.splitlines() if "=" in line)
    assert fields["TYPE"] == "iso9660"
    assert fields["LABEL"] == "config-2"


def test_a_servers_drive_carries_its_metadata(tmp_path: Path) -> None:
    server = instance(
        "project-1",
        "user-1",
        id=7,
        display_name="web",
        hostname="web",
        key_name="demo",
        key_data="ssh-ed25519 AAAA demo",
        user_data=base64.b64encode(b"#cloud-config\n").decode(),
    )
    files = InstanceMetadata(MetadataSource.from_instance(server, NetworkInfo())).files()
    drive = tmp_path / "disk.config"
    make_config_drive(drive, files)

    found = read_config_drive(drive).files
    assert found == files
    meta = json.loads(found["openstack/latest/meta_data.json"])
    assert (meta["uuid"], meta["name"]) == (server.uuid, "web")
    assert meta["public_keys"] == {"demo": "ssh-ed25519 AAAA demo"}
    assert found["openstack/latest/user_data"] == b"#cloud-config\n"


def test_rewriting_replaces_the_whole_volume(tmp_path: Path) -> None:
    drive = tmp_path / "disk.config"
    make_config_drive(drive, FILES)
    make_config_drive(drive, {"openstack/latest/meta_data.json": b"{}"})
    assert read_config_drive(drive).files == {"openstack/latest/meta_data.json": b"{}"}
    assert [p.name for p in tmp_path.iterdir()] == ["disk.config"]
    assert drive.stat().st_mode & 0o777 == 0o644


def test_a_refused_build_leaves_the_old_volume(tmp_path: Path) -> None:
    drive = tmp_path / "disk.config"
    make_config_drive(drive, FILES)
    with pytest.raises(ValueError):
        make_config_drive(drive, {"openstack/latest/a;1": b"x"})
    assert read_config_drive(drive).files == FILES
    assert [p.name for p in tmp_path.iterdir()] == ["disk.config"]


def test_a_target_that_cannot_be_replaced_leaves_no_temporary_file(tmp_path: Path) -> None:
    drive = tmp_path / "disk.config"
    drive.mkdir()
    with pytest.raises(ConfigDriveError, match=r"disk\.config"):
        make_config_drive(drive, FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["disk.config"]
    assert drive.is_dir()


def test_a_missing_directory_is_a_config_drive_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigDriveError):
        make_config_drive(tmp_path / "gone" / "disk.config", FILES)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "path",
    ["/openstack/latest/x", "openstack//x", "openstack/../x", "a" * 65, "x;1", "openstack/latest"],
)
def test_paths_a_volume_cannot_hold_are_refused(tmp_path: Path, path: str) -> None:
    files = {path: b"x", "openstack/latest/meta_data.json": b"{}"}
    with pytest.raises(ValueError):
        make_config_drive(tmp_path / "disk.config", files)
    assert list(tmp_path.iterdir()) == []
