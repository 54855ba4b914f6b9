"""Real guests with the unmodified openstack CLI against `cumulo up --driver libvirt`:
cumulo's own guest image boots under QEMU (TCG here), reads its config drive, and
the server's life (stop, start, reboot, delete) shows in the API and on the host.

No QEMU on the machine is a failure (``tests.libvirt_root``/``tests.guest_image``
raise), not a skip: `make install` installs it.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cumulo.config import Settings
from cumulo.virt.libvirt.host import connection_uri
from tests.functional.cloud import CLIError, Cloud, free_port
from tests.functional.guests import (
    DEMO,
    console_until,
    create_server,
    fixed_ip,
    guest_cloud,
    status,
    wait_status,
)
from tests.guest_image import built_guest_image

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with guest_cloud(tmp_path_factory, "cumulo-libvirt") as c:
        yield c


def _domains(cloud: Cloud) -> str:
    """``virsh list --all`` on the cloud's own libvirt root (free once the cloud stopped)."""
    uri = connection_uri(Settings(state_dir=cloud.state_dir))
    return subprocess.run(
        ["virsh", "-c", uri, "list", "--all", "--name"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip


def test_guest_boots_reads_its_config_drive_and_lives_its_life(cloud: Cloud) -> None:
    guest = built_guest_image()
    created = create_server(cloud, "vm-1", "--image", "guest")
    assert created["status"] == "ACTIVE"
    uuid = str(created["id"])
    address = fixed_ip(created)
    console_until(
        cloud, "vm-1",
        f"cumulo-guest: instance-id {uuid}",
        f"cumulo-guest: ip {address}",
        f"cumulo-guest: metadata-uuid {uuid}",
        guest.marker,
    )  # fmt: skip

    cloud.osc("server", "stop", "vm-1", cloud=DEMO, as_json=False)
    wait_status(cloud, "vm-1", "SHUTOFF")
    cloud.osc("server", "start", "vm-1", cloud=DEMO, as_json=False)
    wait_status(cloud, "vm-1", "ACTIVE")
    console_until(cloud, "vm-1", guest.marker)
    try:
        cloud.osc("server", "reboot", "--wait", "vm-1", cloud=DEMO, as_json=False)
    except CLIError as exc:
        shown = cloud.osc("server", "show", "vm-1", cloud=DEMO)
        raise AssertionError(f"reboot failed: {shown.get('status')} {shown.get('fault')}") from exc
    assert status(cloud, "vm-1") == "ACTIVE"

    instance_dir = cloud.state_dir / "instances" / uuid
    assert (instance_dir / "disk").exists() and (instance_dir / "disk.config").exists()
    cloud.osc("server", "delete", "--wait", "vm-1", cloud=DEMO, as_json=False)
    assert not instance_dir.exists()
    assert cloud.cumulo("audit", check=False).returncode == 0


def test_a_guest_killed_from_outside_shows_shutoff(cloud: Cloud) -> None:
    created = create_server(cloud, "vm-kill", "--image", "guest")
    uuid = str(created["id"])
    pid_file = cloud.state_dir / "libvirt" / "run" / "qemu" / f"instance-{uuid}.pid"
    os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while status(cloud, "vm-kill") != "SHUTOFF":
        assert time.monotonic() < deadline, "the power sync never saw the guest die"
        time.sleep(1)
    cloud.osc("server", "delete", "--wait", "vm-kill", cloud=DEMO, as_json=False)


def test_boot_from_volume(cloud: Cloud) -> None:
    guest = built_guest_image()
    created = create_server(cloud, "vm-bfv", "--image", "guest", "--boot-from-volume", "1")
    assert created["status"] == "ACTIVE"
    console_until(cloud, "vm-bfv", guest.marker)
    cloud.osc("server", "delete", "--wait", "vm-bfv", cloud=DEMO, as_json=False)


def test_an_image_qemu_cannot_read_errors_and_leaves_nothing(cloud: Cloud, tmp_path: Path) -> None:
    """A qcow2 whose header the image service accepts but QEMU cannot open (its L1 table
    offset is corrupt): the build aborts with a fault, and the host keeps no disk,
    domain or directory of it."""
    bad = tmp_path / "bad.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(bad), "16M"], check=True)
    header = bytearray(bad.read_bytes())
    header[40:48] = struct.pack(">Q", 0x1234)
    bad.write_bytes(bytes(header))
    cloud.osc(
        "image", "create", "--file", str(bad), "--disk-format", "qcow2",
        "--container-format", "bare", "--public", "bad",
    )  # fmt: skip
    with pytest.raises(CLIError):
        create_server(cloud, "vm-bad", "--image", "bad")
    shown = cloud.osc("server", "show", "vm-bad", cloud=DEMO)
    assert shown["status"] == "ERROR"
    assert "qemu-img" in shown["fault"]["message"]
    assert not (cloud.state_dir / "instances" / str(shown["id"])).exists()
    cloud.osc("server", "delete", "--wait", "vm-bad", cloud=DEMO, as_json=False)
    assert cloud.cumulo("audit", check=False).returncode == 0


def test_down_leaves_no_domain_of_deleted_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """After `cumulo down`, the cloud's libvirt root holds no domain of a deleted server,
    and the domain of a live one is stopped (``virsh list --all`` on the same URI)."""
    built_guest_image()
    state = tmp_path_factory.mktemp("cumulo-down")
    c = Cloud(state, free_port())
    c.up("--driver", "libvirt")
    try:
        disk = state / "blank.raw"
        disk.write_bytes(b"\0" * 65536)
        c.osc(
            "image", "create", "--file", str(disk), "--disk-format", "raw",
            "--container-format", "bare", "--public", "blank",
        )  # fmt: skip
        c.osc("network", "create", "n", cloud=DEMO)
        c.osc("subnet", "create", "--network", "n", "--subnet-range", "10.4.0.0/24", "s",
              cloud=DEMO)  # fmt: skip
        kept = c.osc("server", "create", "--flavor", "c1.nano", "--image", "blank",
                     "--network", "n", "--wait", "kept", cloud=DEMO)  # fmt: skip
        gone = c.osc("server", "create", "--flavor", "c1.nano", "--image", "blank",
                     "--network", "n", "--wait", "gone", cloud=DEMO)  # fmt: skip
        c.osc("server", "delete", "--wait", "gone", cloud=DEMO, as_json=False)
    finally:
        c.down()
    names = _domains(c).split()
    assert f"instance-{gone['id']}" not in names
    assert f"instance-{kept['id']}" in names
    running = subprocess.run(
        ["virsh", "-c", connection_uri(Settings(state_dir=state)), "list", "--name"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    assert running == []


def test_an_image_that_boots_its_kernel_directly(cloud: Cloud) -> None:
    """Glance's ``kernel_id``/``ramdisk_id``/``os_command_line``: the guest image's kernel
    and ramdisk as images of their own, and a blank root disk that boots through them."""
    guest = built_guest_image()
    kernel = cloud.osc(
        "image", "create", "--file", str(guest.kernel), "--disk-format", "aki",
        "--container-format", "aki", "--public", "guest-kernel",
    )  # fmt: skip
    ramdisk = cloud.osc(
        "image", "create", "--file", str(guest.ramdisk), "--disk-format", "ari",
        "--container-format", "ari", "--public", "guest-ramdisk",
    )  # fmt: skip
    root = cloud.state_dir / "root.raw"
    root.write_bytes(b"\0" * 1024 * 1024)
    cloud.osc(
        "image", "create", "--file", str(root), "--disk-format", "ami",
        "--container-format", "ami", "--public",
        "--property", f"kernel_id={kernel['id']}", "--property", f"ramdisk_id={ramdisk['id']}",
        "--property", f"os_command_line={guest.cmdline}", "guest-direct",
    )  # fmt: skip
    created = create_server(cloud, "vm-direct", "--image", "guest-direct")
    console_until(cloud, "vm-direct", f"cumulo-guest: instance-id {created['id']}", guest.marker)
    cloud.osc("server", "delete", "--wait", "vm-direct", cloud=DEMO, as_json=False)


def test_a_domain_libvirt_refuses_ends_in_error_and_leaves_nothing(cloud: Cloud) -> None:
    """An image asking for a machine type QEMU does not have: libvirt refuses the domain,
    the build is rescheduled until no host is left, and ends in ERROR with the reason."""
    guest = built_guest_image()
    cloud.osc(
        "image", "create", "--file", str(guest.disk), "--disk-format", "qcow2",
        "--container-format", "bare", "--public", "--property", "hw_machine_type=no-such",
        "odd-machine",
    )  # fmt: skip
    with pytest.raises(CLIError):
        create_server(cloud, "vm-odd", "--image", "odd-machine")
    shown = cloud.osc("server", "show", "vm-odd", cloud=DEMO)
    assert shown["status"] == "ERROR"
    assert "retries" in shown["fault"]["message"] or "valid host" in shown["fault"]["message"]
    assert not (cloud.state_dir / "instances" / str(shown["id"])).exists()
    cloud.osc("server", "delete", "--wait", "vm-odd", cloud=DEMO, as_json=False)
    assert cloud.cumulo("audit", check=False).returncode == 0
