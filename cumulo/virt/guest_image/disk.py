"""A whole-disk image that boots by BIOS from its own bootloader, without loop devices.

Layout: syslinux's MBR code and one partition table entry, then at 1 MiB one
FAT16 partition holding the kernel, the ramdisk, ``syslinux.cfg`` and
syslinux's loader. The partition is made as a file of its own (``mkfs.fat``,
``mcopy``, ``syslinux --install`` all work on files through mtools) and copied
in behind the MBR; ``qemu-img`` turns the result into qcow2.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

from cumulo.virt.guest_image.commands import run
from cumulo.virt.guest_image.errors import GuestImageError

SECTOR = 512
MIB = 1 << 20
PARTITION_START = 2048
"""In sectors: the partition starts at 1 MiB, as partitioning tools align it."""
FAT16_LBA = 0x0E
SYSLINUX_MBR = (Path("/usr/lib/syslinux/mbr/mbr.bin"), Path("/usr/lib/SYSLINUX/mbr.bin"))
FAT_LABEL = "CUMULO-BOOT"
VOLUME_ID = "c0c0c0c0"
_MTOOLS_ENV = {"MTOOLS_SKIP_CHECK": "1", "MTOOLS_NO_VFAT": "0"}


def syslinux_config(cmdline: str) -> str:
    """Boot the one entry at once, talking on the first serial port."""
    return (
        "SERIAL 0 115200\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "DEFAULT cumulo\n"
        "LABEL cumulo\n"
        "  LINUX /vmlinuz\n"
        "  INITRD /initrd.img\n"
        f"  APPEND {cmdline}\n"
    )


def partition_size(files: list[Path]) -> int:
    """Room for the files plus the FAT and syslinux's loader, in whole MiB."""
    payload = sum(f.stat().st_size for f in files)
    return -(-(payload * 105 // 100 + 2 * MIB) // MIB) * MIB


def make_boot_partition(path: Path, files: dict[str, Path], cmdline: str) -> None:
    """A FAT16 file system in ``path`` with ``files`` at its root and syslinux installed."""
    size = partition_size(list(files.values()))
    env = {**os.environ, **_MTOOLS_ENV}
    run(
        ["mkfs.fat", "-F", "16", "-n", FAT_LABEL, "-i", VOLUME_ID, "-h", str(PARTITION_START),
         "--invariant", "-C", path, str(size // 1024)],
    )  # fmt: skip
    config = path.with_name("syslinux.cfg")
    config.write_text(syslinux_config(cmdline))
    for name, source in {**files, "syslinux.cfg": config}.items():
        run(["mcopy", "-o", "-i", path, source, f"::/{name}"], env=env)
    run(["syslinux", "--install", path], env=env)


def mbr(partition_sectors: int, boot_code: bytes) -> bytes:
    """Sector 0: boot code, one bootable FAT16 (LBA) partition, the 0x55AA signature."""
    if len(boot_code) > 440:
        raise GuestImageError(reason=f"MBR boot code of {len(boot_code)} bytes (at most 440)")
    end = PARTITION_START + partition_sectors - 1
    entry = (
        bytes([0x80]) + _chs(PARTITION_START) + bytes([FAT16_LBA]) + _chs(end)
        + struct.pack("<II", PARTITION_START, partition_sectors)
    )  # fmt: skip
    sector = bytearray(SECTOR)
    sector[: len(boot_code)] = boot_code
    sector[440:444] = bytes.fromhex(VOLUME_ID)
    sector[446:462] = entry
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def _chs(lba: int, heads: int = 255, sectors: int = 63) -> bytes:
    cylinder, rest = divmod(lba, heads * sectors)
    if cylinder > 1023:
        return bytes([0xFE, 0xFF, 0xFF])
    head, sector = divmod(rest, sectors)
    return bytes([head, (sector + 1) | ((cylinder >> 2) & 0xC0), cylinder & 0xFF])


def syslinux_mbr() -> bytes:
    for candidate in SYSLINUX_MBR:
        if candidate.is_file():
            return candidate.read_bytes()
    raise GuestImageError(reason="syslinux's mbr.bin is missing (Debian package syslinux-common)")


def assemble(partition: Path, raw: Path) -> None:
    """``raw``: the MBR, the gap up to 1 MiB, then the partition."""
    size = partition.stat().st_size
    with raw.open("wb") as out, partition.open("rb") as part:
        out.write(mbr(size // SECTOR, syslinux_mbr()))
        out.truncate(PARTITION_START * SECTOR)
        out.seek(PARTITION_START * SECTOR)
        shutil.copyfileobj(part, out, MIB)


def to_qcow2(raw: Path, qcow2: Path) -> None:
    run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, qcow2])


def build_disk(work: Path, files: dict[str, Path], cmdline: str, qcow2: Path) -> None:
    """The bootable disk from the kernel and ramdisk in ``files`` (guest name → host file)."""
    partition = work / "boot.fat"
    raw = work / "disk.raw"
    make_boot_partition(partition, files, cmdline)
    assemble(partition, raw)
    partition.unlink()
    to_qcow2(raw, qcow2)
    raw.unlink()


def virtual_size(image: Path) -> int:
    """The size of the disk the guest sees, in bytes."""
    info = json.loads(run(["qemu-img", "info", "--output=json", image]))
    return int(info["virtual-size"])
