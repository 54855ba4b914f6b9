"""The guest's whole userland as a compressed initramfs: busybox, modules, init scripts, SSH.

The same ramdisk serves both forms of the image: booted directly next to the
kernel, or loaded by the disk's bootloader. Nothing runs from the disk.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cumulo.virt.guest_image import modules as kmod
from cumulo.virt.guest_image.commands import run
from cumulo.virt.guest_image.cpio import Tree
from cumulo.virt.guest_image.errors import GuestImageError

GUEST_MODULES = (
    "evdev",
    "button",
    "virtio_pci",
    "virtio_blk",
    "virtio_net",
    "virtio_rng",
    "cdrom",
    "sr_mod",
    "sd_mod",
    "isofs",
    "virtio_scsi",
    "ata_piix",
    "ahci",
)
"""What the guest loads, in this order (dependencies first): the ACPI power button,
disks and NIC on virtio, the config drive on an IDE, SATA or virtio-scsi CD-ROM.
SCSI drivers come before the controllers so that disks bind as they are found."""

DATA_FILES: dict[str, tuple[str, int]] = {
    "inittab": ("etc/inittab", 0o644),
    "rcS": ("etc/init.d/rcS", 0o755),
    "rcK": ("etc/init.d/rcK", 0o755),
    "power-button": ("etc/acpi/PWRF/00000080", 0o755),
    "udhcpc.script": ("usr/share/udhcpc/default.script", 0o755),
    "json.awk": ("usr/share/cumulo/json.awk", 0o644),
    "passwd": ("etc/passwd", 0o644),
    "shadow": ("etc/shadow", 0o600),
    "group": ("etc/group", 0o644),
    "shells": ("etc/shells", 0o644),
    "nsswitch.conf": ("etc/nsswitch.conf", 0o644),
    "profile": ("etc/profile", 0o644),
    "hosts": ("etc/hosts", 0o644),
}
"""Package data file → where it goes in the guest, and its mode."""

SSH_SERVER = "/usr/sbin/dropbear"
_LDD_PATH = re.compile(r"(/\S+) \(0x[0-9a-f]+\)$")


@dataclass(frozen=True)
class KernelTree:
    """An unpacked kernel package."""

    release: str
    vmlinuz: Path
    modules_dir: Path

    @classmethod
    def find(cls, root: Path) -> KernelTree:
        kernels = sorted((root / "boot").glob("vmlinuz-*"))
        if len(kernels) != 1:
            raise GuestImageError(reason=f"expected one kernel in {root / 'boot'}, found {kernels}")
        release = kernels[0].name.removeprefix("vmlinuz-")
        modules_dir = root / "lib" / "modules" / release
        if not modules_dir.is_dir():
            raise GuestImageError(reason=f"the kernel package has no {modules_dir}")
        return cls(release, kernels[0], modules_dir)


def data_file(name: str) -> bytes:
    return resources.files(__package__).joinpath("data").joinpath(name).read_bytes()


def skeleton() -> Tree:
    """Directories, the console device the kernel needs before /dev is mounted, and /init."""
    tree = Tree()
    for path in ("proc", "sys", "dev", "run", "mnt/config", "var/log", "etc/dropbear"):
        tree.directory(path)
    tree.directory("root", 0o700)
    tree.directory("tmp", 0o1777)
    tree.char_device("dev/console", 5, 1)
    tree.symlink("init", "/bin/busybox")
    for name, (path, mode) in DATA_FILES.items():
        tree.file(path, data_file(name), mode)
    return tree


def add_busybox(tree: Tree, busybox: Path) -> None:
    """The static busybox and a link for each applet (not for ``busybox`` itself: a self-link)."""
    tree.file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in run([busybox, "--list-full"]).split():
        if Path(applet).name != "busybox" and applet.strip("/") not in tree.entries:
            tree.symlink(applet, "/bin/busybox")


def add_modules(tree: Tree, kernel: KernelTree) -> list[str]:
    """The modules of ``GUEST_MODULES`` with their dependencies, and the order to load them."""
    builtin = kmod.builtin_names(kernel.modules_dir / "modules.builtin")
    order = kmod.load_order(list(GUEST_MODULES), kmod.index(kernel.modules_dir), builtin)
    base = f"lib/modules/{kernel.release}"
    for module in order:
        tree.file(f"{base}/{module.name}.ko", module.path.read_bytes())
    names = [module.name for module in order]
    tree.file(f"{base}/load-order", "".join(f"{name}\n" for name in names).encode())
    return names


def add_ssh_server(tree: Tree, server: Path = Path(SSH_SERVER)) -> None:
    """Dropbear and the shared libraries ``ldd`` says it loads, at the same paths."""
    tree.file(str(server), server.read_bytes(), 0o755)
    for line in run(["ldd", server]).splitlines():
        found = _LDD_PATH.search(line.strip())
        if found:
            library = Path(found.group(1))
            tree.file(str(library), library.resolve().read_bytes(), 0o755)


def pack(tree: Tree) -> bytes:
    """The archive, gzip-compressed: the kernel unpacks gzip fastest under TCG."""
    return gzip.compress(tree.archive(), compresslevel=9, mtime=0)
