"""The libvirt domain a guest is defined as, as typed objects that write its XML
(Nova's ``nova/virt/libvirt/config.py``: ``LibvirtConfigGuest`` and its devices).

Only what cumulo's guests use is modelled; every value reaches the XML through
ElementTree, so a name or a path can never break the document.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

VirtType = Literal["kvm", "qemu"]
METADATA_NS = "https://cumulo.dev/xmlns/instance/1"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


@dataclass(frozen=True)
class GuestDisk:
    """A disk or cdrom backed by a file: the root overlay, an ephemeral disk, a volume,
    the config drive."""

    source: Path
    target_dev: str
    """``vda``, ``vdb``… on virtio; ``hdd`` for the config drive's IDE cdrom."""
    driver_format: Literal["qcow2", "raw"] = "qcow2"
    device: Literal["disk", "cdrom"] = "disk"
    target_bus: Literal["virtio", "ide", "sata"] = "virtio"
    readonly: bool = False
    serial: str | None = None
    """A volume's id, so the guest finds it under /dev/disk/by-id (Nova sets it too)."""
    boot_order: int | None = None

    def format_dom(self, devices: ET.Element) -> None:
        disk = _sub(devices, "disk", type="file", device=self.device)
        _sub(disk, "driver", name="qemu", type=self.driver_format)
        _sub(disk, "source", file=str(self.source))
        _sub(disk, "target", dev=self.target_dev, bus=self.target_bus)
        if self.readonly:
            _sub(disk, "readonly")
        if self.serial:
            _sub(disk, "serial", self.serial)
        if self.boot_order is not None:
            _sub(disk, "boot", order=str(self.boot_order))


@dataclass(frozen=True)
class GuestInterface:
    """A virtio NIC on a tap device named after its port (``tapXXXXXXXX-XX``).

    ``plugged``: the data plane made the tap and enslaved it to its network's
    bridge before the guest starts (os-vif's way), and keeps it; otherwise
    libvirt creates a tap with no network behind it and removes it itself.
    """

    mac_address: str
    target_dev: str
    plugged: bool = False
    mtu: int | None = None

    def format_dom(self, devices: ET.Element) -> None:
        iface = _sub(devices, "interface", type="ethernet")
        _sub(iface, "mac", address=self.mac_address)
        if self.plugged:
            _sub(iface, "target", dev=self.target_dev, managed="no")
        else:
            _sub(iface, "target", dev=self.target_dev)
        _sub(iface, "model", type="virtio")
        if self.mtu:
            _sub(iface, "mtu", size=str(self.mtu))


@dataclass(frozen=True)
class GuestOS:
    """How the guest boots: its own bootloader from the first disk, or a kernel given
    directly (an image with ``kernel_id``/``ramdisk_id``)."""

    kernel: Path | None = None
    initrd: Path | None = None
    cmdline: str | None = None
    machine: str = "pc"
    """QEMU's machine type; an image's ``hw_machine_type`` chooses another."""

    def format_dom(self, domain: ET.Element) -> None:
        os_ = _sub(domain, "os")
        _sub(os_, "type", "hvm", arch="x86_64", machine=self.machine)
        if self.kernel is not None:
            _sub(os_, "kernel", str(self.kernel))
            if self.initrd is not None:
                _sub(os_, "initrd", str(self.initrd))
            if self.cmdline:
                _sub(os_, "cmdline", self.cmdline)
        _sub(os_, "bios", useserial="yes")
        _sub(os_, "smbios", mode="sysinfo")


@dataclass(frozen=True)
class Guest:
    """One domain: identity, size, boot, devices, and a serial console in a file."""

    uuid: str
    name: str
    virt_type: VirtType
    memory_mib: int
    vcpus: int
    console_log: Path
    os: GuestOS = field(default_factory=GuestOS)
    disks: tuple[GuestDisk, ...] = ()
    interfaces: tuple[GuestInterface, ...] = ()
    tb_cache_mib: int | None = None
    """TCG's translation cache, which otherwise grows a guest's RSS by hundreds of MiB."""
    product: str = "cumulo"
    metadata: dict[str, str] = field(default_factory=dict)
    """Written under ``<metadata><cumulo:instance>``: whose guest it is, for ``virsh``
    and for ``list_instances``."""

    def to_xml(self) -> str:
        domain = ET.Element("domain", type=self.virt_type)
        _sub(domain, "name", self.name)
        _sub(domain, "uuid", self.uuid)
        if self.metadata:
            meta = _sub(domain, "metadata")
            owner = ET.SubElement(meta, "cumulo:instance", {"xmlns:cumulo": METADATA_NS})
            for key, value in sorted(self.metadata.items()):
                _sub(owner, f"cumulo:{key}", value)
        _sub(domain, "memory", str(self.memory_mib), unit="MiB")
        _sub(domain, "vcpu", str(self.vcpus))
        self._format_sysinfo(domain)
        self.os.format_dom(domain)
        features = _sub(domain, "features")
        _sub(features, "acpi")
        _sub(features, "apic")
        if self.virt_type == "qemu" and self.tb_cache_mib:
            tcg = _sub(features, "tcg")
            _sub(tcg, "tb-cache", str(self.tb_cache_mib), unit="MiB")
        if self.virt_type == "kvm":
            _sub(domain, "cpu", mode="host-passthrough")
        _sub(domain, "clock", offset="utc")
        _sub(domain, "on_poweroff", "destroy")
        _sub(domain, "on_reboot", "restart")
        _sub(domain, "on_crash", "destroy")
        devices = _sub(domain, "devices")
        # No USB controller: nothing of a cloud guest uses it, and probing it costs the
        # guest's kernel about a second under TCG.
        _sub(devices, "controller", type="usb", model="none")
        for disk in self.disks:
            disk.format_dom(devices)
        for iface in self.interfaces:
            iface.format_dom(devices)
        serial = _sub(devices, "serial", type="file")
        _sub(serial, "source", path=str(self.console_log))
        _sub(serial, "target", port="0")
        _sub(devices, "memballoon", model="none")
        ET.indent(domain)
        return ET.tostring(domain, encoding="unicode")

    def _format_sysinfo(self, domain: ET.Element) -> None:
        """SMBIOS system serial and uuid = the instance uuid, as Nova sets them, so a
        guest can tell which instance it is without any metadata service."""
        sysinfo = _sub(domain, "sysinfo", type="smbios")
        system = _sub(sysinfo, "system")
        _sub(system, "entry", "cumulo", name="manufacturer")
        _sub(system, "entry", self.product, name="product")
        _sub(system, "entry", self.uuid, name="serial")
        _sub(system, "entry", self.uuid, name="uuid")
