"""The guest image for tests that boot real guests, built once per machine, and a bare QEMU boot.

``built_guest_image()`` builds into ``$CUMULO_TEST_GUEST_IMAGE_DIR`` (default
``~/.cache/cumulo/test-guest-image``) under a file lock, so parallel pytest
workers build it once and every later run reuses it. ``bare_qemu`` boots it
with ``qemu-system-x86_64`` alone (TCG: KVM guests hang on this machine),
serial console to a file, and always kills QEMU on the way out.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pycdlib
import pytest

from cumulo.virt.guest_image import GuestImage, build

QEMU = "qemu-system-x86_64"
QEMU_LIFETIME = 300
"""Hard limit on any QEMU a test starts, enforced by ``timeout`` even if pytest dies."""


def guest_image_dir() -> Path:
    configured = os.environ.get("CUMULO_TEST_GUEST_IMAGE_DIR")
    return Path(configured) if configured else Path.home() / ".cache/cumulo/test-guest-image"


def built_guest_image() -> GuestImage:
    """The test guest image, built on first use (a few seconds), reused afterwards."""
    directory = guest_image_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return build(directory / "image", directory / "packages")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_config_drive(path: Path, meta_data: dict[str, Any]) -> None:
    """An ISO 9660 config drive labelled ``config-2`` with ``openstack/latest/meta_data.json``."""
    body = json.dumps(meta_data).encode()
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident="config-2")
    iso.add_directory("/OPENSTACK", rr_name="openstack", joliet_path="/openstack")
    iso.add_directory("/OPENSTACK/LATEST", rr_name="latest", joliet_path="/openstack/latest")
    iso.add_fp(
        io.BytesIO(body),
        len(body),
        "/OPENSTACK/LATEST/META_DATA.JSON",
        rr_name="meta_data.json",
        joliet_path="/openstack/latest/meta_data.json",
    )
    iso.write(str(path))
    iso.close()


@dataclass
class BareGuest:
    """A running QEMU guest and its serial console file."""

    process: subprocess.Popen[bytes]
    console: Path
    monitor: Path
    qemu_log: Path
    """QEMU's own output (errors, warnings)."""
    started: float

    def output(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def wait_for(self, text: str, timeout: float) -> float:
        """Seconds from QEMU's start until ``text`` is on the console; fails with the console."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None:
                pytest.fail(
                    f"QEMU exited ({self.process.returncode}) before {text!r}:\n{self._tail()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no {text!r} on the console within {timeout:.0f} s:\n{self._tail()}")
            time.sleep(0.05)
        return time.monotonic() - self.started

    def press_power_button(self) -> None:
        """The ACPI power button, as libvirt's ``shutdown()`` presses it."""
        with _unix_socket(self.monitor) as sock:
            sock.sendall(b"system_powerdown\n")
            time.sleep(0.2)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"QEMU still runs {timeout:.0f} s later:\n{self._tail()}")

    def _tail(self) -> str:
        qemu = self.qemu_log.read_text(errors="replace") if self.qemu_log.exists() else ""
        console = "\n".join(self.output().splitlines()[-40:])
        return f"{console}\n--- QEMU said:\n{qemu[-2000:]}"


@contextmanager
def _unix_socket(path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(str(path))
        yield sock
    finally:
        sock.close()


def qemu_boot_args(
    image: GuestImage, form: Literal["disk", "kernel"], *, vmlinux: bool = False
) -> list[str]:
    """The QEMU arguments that boot one form of the image (the disk as a throwaway snapshot)."""
    if form == "disk":
        return ["-drive", f"file={image.disk},if=virtio,format=qcow2,snapshot=on"]
    kernel = image.kernel
    if vmlinux:
        if image.vmlinux is None:
            pytest.fail("the image was built without vmlinux (build(uncompressed_kernel=True))")
        kernel = image.vmlinux
    return ["-kernel", str(kernel), "-initrd", str(image.ramdisk), "-append", image.cmdline]


@contextmanager
def bare_qemu(
    boot_args: Sequence[str],
    work: Path,
    *,
    memory_mib: int = 128,
    config_drive: Path | None = None,
    nic: Sequence[str] = ("-nic", "none"),
) -> Iterator[BareGuest]:
    """QEMU with the given boot arguments; killed at the end, whatever happens."""
    if shutil.which(QEMU) is None:
        pytest.fail(f"{QEMU} is not installed: install qemu-system-x86 (tools/debian-packages.txt)")
    sockets = Path(tempfile.mkdtemp(prefix="cg-"))  # unix socket paths must stay short
    console = work / "console.log"
    monitor = sockets / "monitor"
    args = [
        "timeout", "--signal=KILL", str(QEMU_LIFETIME),
        QEMU, "-machine", "pc,accel=tcg", "-m", str(memory_mib), "-nographic", "-no-reboot",
        "-serial", f"file:{console}", "-monitor", f"unix:{monitor},server=on,wait=off",
        *nic, *boot_args,
    ]  # fmt: skip
    if config_drive is not None:
        args += ["-drive", f"file={config_drive},media=cdrom,if=ide,index=3,readonly=on"]
    qemu_log = work / "qemu.log"
    with qemu_log.open("wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    try:
        yield BareGuest(process, console, monitor, qemu_log, started)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        shutil.rmtree(sockets, ignore_errors=True)
