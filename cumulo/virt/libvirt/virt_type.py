"""Choosing ``kvm`` or ``qemu`` (TCG) by booting a probe guest, once per machine.

``/dev/kvm`` existing is not enough: under nested virtualisation libvirt
advertises KVM and a KVM guest even runs its BIOS, then hangs as soon as the
kernel starts, silently. So the probe boots a real Linux kernel with KVM and no
root disk and waits for the kernel's first console line; no line within
``PROBE_SECONDS`` means KVM does not work here and guests run under TCG, as
Nova's ``virt_type = qemu`` makes them. The answer is cached beside the
libvirt state, keyed by the host kernel and the QEMU version.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
import uuid as uuid_lib
from pathlib import Path

import libvirt

from cumulo.config import Settings
from cumulo.virt.libvirt.config import Guest, GuestOS, VirtType
from cumulo.virt.libvirt.host import Host

LOG = logging.getLogger(__name__)

PROBE_SECONDS = 15.0
PROBE_MARK = b"Linux version"
GUEST_IMAGE_KERNEL = Path("guest-image") / "vmlinuz"


def probe_kernel(settings: Settings) -> Path | None:
    """A kernel to probe with: the guest image's, else the host's own."""
    candidates = [settings.state_dir / GUEST_IMAGE_KERNEL, *sorted(Path("/boot").glob("vmlinuz-*"))]
    return next((path.resolve() for path in candidates if path.is_file()), None)


def _cache_file(settings: Settings) -> Path:
    return settings.state_dir / "libvirt-virt-type.json"


async def detect(host: Host, settings: Settings) -> VirtType:
    configured = settings.libvirt.virt_type
    if configured != "auto":
        return configured
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "qemu"
    conn = await host.connection()
    key = {"kernel": os.uname().release, "qemu": await host.call(conn.getVersion)}
    cache = _cache_file(settings)
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return "kvm" if cached["virt_type"] == "kvm" else "qemu"
    except (OSError, ValueError, KeyError):
        pass
    kernel = probe_kernel(settings)
    if kernel is None:
        LOG.warning("no kernel to probe KVM with (build the guest image); guests use TCG")
        return "qemu"
    works = await _kvm_boots(host, kernel)
    virt_type: VirtType = "kvm" if works else "qemu"
    LOG.info("KVM probe: %s; guests run with virt_type=%s", works, virt_type)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "virt_type": virt_type}))
    return virt_type


async def _kvm_boots(host: Host, kernel: Path) -> bool:
    with tempfile.TemporaryDirectory(prefix="cumulo-kvm-probe-") as scratch:
        console = Path(scratch) / "console.log"
        console.touch()
        uuid = str(uuid_lib.uuid4())
        guest = Guest(
            uuid=uuid,
            name=f"cumulo-kvm-probe-{uuid[:8]}",
            virt_type="kvm",
            memory_mib=128,
            vcpus=1,
            console_log=console,
            os=GuestOS(kernel=kernel, cmdline="console=ttyS0 loglevel=7 panic=-1"),
        )
        conn = await host.connection()
        try:
            domain = await host.call(conn.createXML, guest.to_xml(), 0)
        except libvirt.libvirtError as exc:
            LOG.info("KVM probe guest did not start: %s", exc)
            return False
        try:
            deadline = time.monotonic() + PROBE_SECONDS
            while time.monotonic() < deadline:
                if PROBE_MARK in console.read_bytes():
                    return True
                await asyncio.sleep(0.2)
            return False
        finally:
            try:
                await host.call(domain.destroy)
            except libvirt.libvirtError:
                pass
