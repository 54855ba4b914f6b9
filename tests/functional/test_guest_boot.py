"""The guest image cumulo builds boots under bare QEMU (TCG) in both forms and does its job.

Each test boots one guest with ``qemu-system-x86_64 -machine pc,accel=tcg``,
its serial console in a file, and reads what the guest's init printed. A
machine without QEMU fails these tests; they never skip.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from cumulo.virt.guest_image import GuestImage
from tests.functional.cloud import free_port
from tests.guest_image import BareGuest, bare_qemu, built_guest_image, qemu_boot_args
from tests.guest_image import write_config_drive as write_iso

MARKER_TIMEOUT = 90.0
SHUTDOWN_TIMEOUT = 60.0
SSH_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def image() -> GuestImage:
    return built_guest_image()


def meta_data(
    public_key: str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZha2U test@cumulo",
) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "name": "guest one",
        "hostname": "guest-one",
        "public_keys": {"test": public_key},
        "keys": [{"name": "test", "type": "ssh", "data": public_key}],
        "launch_index": 0,
        "availability_zone": "nova",
        "meta": {},
    }


def write_config_drive(tmp_path: Path, meta: dict[str, Any]) -> Path:
    path = tmp_path / "disk.config"
    write_iso(path, meta)
    return path


def console_lines(guest: BareGuest) -> list[str]:
    return [line.strip() for line in guest.output().splitlines()]


def assert_reports_metadata(guest: BareGuest, meta: dict[str, Any]) -> None:
    lines = console_lines(guest)
    assert f"cumulo-guest: instance-id {meta['uuid']}" in lines
    assert f"cumulo-guest: name {meta['name']}" in lines
    assert f"cumulo-guest: hostname {meta['hostname']}" in lines


def test_disk_form_reports_the_config_drive_and_powers_off_on_the_power_button(
    image: GuestImage, tmp_path: Path
) -> None:
    meta = meta_data()
    drive = write_config_drive(tmp_path, meta)
    with bare_qemu(qemu_boot_args(image, "disk"), tmp_path, config_drive=drive) as guest:
        guest.wait_for(image.marker, MARKER_TIMEOUT)
        assert_reports_metadata(guest, meta)
        assert "cumulo-guest: ip none" in console_lines(guest)

        guest.press_power_button()
        assert guest.wait_exit(SHUTDOWN_TIMEOUT) == 0
    assert "reboot: Power down" in guest.output()


def test_disk_form_boots_in_96_mib(image: GuestImage, tmp_path: Path) -> None:
    meta = meta_data()
    drive = write_config_drive(tmp_path, meta)
    boot = qemu_boot_args(image, "disk")
    with bare_qemu(boot, tmp_path, memory_mib=96, config_drive=drive) as guest:
        guest.wait_for(image.marker, MARKER_TIMEOUT)
        assert_reports_metadata(guest, meta)


def test_kernel_form_boots_without_a_config_drive(image: GuestImage, tmp_path: Path) -> None:
    with bare_qemu(qemu_boot_args(image, "kernel"), tmp_path) as guest:
        guest.wait_for(image.marker, MARKER_TIMEOUT)
        lines = console_lines(guest)
    assert "cumulo-guest: no config drive" in lines
    assert not [line for line in lines if line.startswith("cumulo-guest: instance-id")]


def make_ssh_key(tmp_path: Path) -> tuple[Path, str]:
    """A dropbear ed25519 key (dropbear-bin is on every host, tools/debian-packages.txt)."""
    key = tmp_path / "id_ed25519"
    made = subprocess.run(
        ["dropbearkey", "-t", "ed25519", "-f", str(key)], capture_output=True, text=True, check=True
    )
    public = next(line for line in made.stdout.splitlines() if line.startswith("ssh-ed25519 "))
    return key, public


def ssh(key: Path, port: int, command: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["dbclient", "-y", "-y", "-i", str(key), "-p", str(port), "root@127.0.0.1", command],
        capture_output=True,
        text=True,
        timeout=SSH_TIMEOUT,
        env={**os.environ, "HOME": str(home)},
        check=False,
    )


def test_kernel_form_takes_a_dhcp_address_accepts_the_key_and_reboots(
    image: GuestImage, tmp_path: Path
) -> None:
    assert image.manifest.ssh_server is not None, "built without dropbear-bin: no SSH server"
    key, public_key = make_ssh_key(tmp_path)
    meta = meta_data(public_key)
    drive = write_config_drive(tmp_path, meta)
    port = free_port()
    # restrict=on: the guest reaches nothing beyond QEMU (its metadata request to
    # 169.254.169.254 must not leave the machine).
    nic = ("-nic", f"user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22")
    boot = qemu_boot_args(image, "kernel")
    with bare_qemu(boot, tmp_path, config_drive=drive, nic=nic) as guest:
        guest.wait_for(image.marker, MARKER_TIMEOUT)
        assert_reports_metadata(guest, meta)
        assert "cumulo-guest: ip 10.0.2.15" in console_lines(guest)

        login = ssh(key, port, "hostname", tmp_path)
        assert login.returncode == 0, login.stderr
        assert login.stdout.strip() == "guest-one"

        ssh(key, port, "reboot", tmp_path)
        assert guest.wait_exit(SHUTDOWN_TIMEOUT) == 0
    assert "reboot: Restarting system" in guest.output()
