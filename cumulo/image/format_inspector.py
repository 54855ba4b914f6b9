"""What format image data really is, and whether it is safe to hand to qemu.

Our own reading of the on-disk headers (the class of CVE-2022-47951 and
CVE-2024-32498): a qcow2 that names a backing file or an external data file,
or a VMDK descriptor pointing at other files, would make qemu open a host file.
Such data is refused, as is data whose real format differs from the one
declared.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 1 << 20
ISO_OFFSETS = (0x8001, 0x8801, 0x9001)
QCOW2_DATA_FILE_BIT = 1 << 2
VMDK_SAFE_TYPES = {"monolithicSparse", "streamOptimized"}
RAW_LIKE = {"raw", "ami", "ari", "aki"}
UNINSPECTED = {"vdi", "ploop"}


class UnsafeImage(ValueError):
    """The data is malformed, dangerous, or not what was declared."""


@dataclass(frozen=True)
class Inspection:
    format: str
    virtual_size: int | None


def inspect_file(path: Path) -> Inspection:
    """The real format and virtual size of the data in ``path``; ``UnsafeImage`` if unsafe."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        tail = b""
        if size >= 512:
            handle.seek(size - 512)
            tail = handle.read(512)
    return inspect_bytes(head, tail, size)


def inspect_bytes(head: bytes, tail: bytes, size: int) -> Inspection:
    """As ``inspect_file`` over the first bytes, the last 512 bytes and the total size."""
    if head.startswith(b"QFI\xfb"):
        return _qcow2(head, size)
    if head.startswith(b"KDMV"):
        return _vmdk_sparse(head)
    if head.startswith(b"# Disk DescriptorFile"):
        raise UnsafeImage("a VMDK descriptor file refers to extents in other files")
    if head.startswith(b"vhdxfile"):
        return Inspection("vhdx", None)
    if head.startswith(b"conectix") or tail.startswith(b"conectix"):
        footer = tail if tail.startswith(b"conectix") else head[:512]
        return _vhd(footer)
    if any(head[off : off + 5] == b"CD001" for off in ISO_OFFSETS):
        return _iso(head)
    return Inspection("raw", size)


def check_declared(inspection: Inspection, disk_format: str | None) -> None:
    """Refuse data whose real format is not the declared ``disk_format``."""
    declared = disk_format or "raw"
    if declared in UNINSPECTED and inspection.format == "raw":
        return
    if declared in RAW_LIKE and inspection.format in ("raw", "iso"):
        return
    if inspection.format != declared:
        raise UnsafeImage(f"data is {inspection.format} but the image's disk_format is {declared}")


def _qcow2(head: bytes, size: int) -> Inspection:
    if len(head) < 72:
        raise UnsafeImage("qcow2 header is truncated")
    version, backing_offset, _backing_len, cluster_bits, virtual_size = struct.unpack_from(
        ">IQIIQ", head, 4
    )
    l1_offset = struct.unpack_from(">Q", head, 40)[0]
    if version not in (2, 3):
        raise UnsafeImage(f"qcow2 version {version} is not supported")
    if not 9 <= cluster_bits <= 21:
        raise UnsafeImage("qcow2 header is inconsistent (cluster size)")
    if backing_offset != 0:
        raise UnsafeImage("qcow2 images with a backing file are not allowed")
    if version == 3:
        if len(head) < 104:
            raise UnsafeImage("qcow2 header is truncated")
        incompatible = struct.unpack_from(">Q", head, 72)[0]
        if incompatible & QCOW2_DATA_FILE_BIT:
            raise UnsafeImage("qcow2 images with an external data file are not allowed")
    if l1_offset >= size:
        raise UnsafeImage("qcow2 header points past the end of the data (truncated)")
    return Inspection("qcow2", virtual_size)


def _vmdk_sparse(head: bytes) -> Inspection:
    if len(head) < 44:
        raise UnsafeImage("vmdk header is truncated")
    capacity, _grain, desc_sector, desc_sectors = struct.unpack_from("<QQQQ", head, 12)
    descriptor = head[desc_sector * 512 : (desc_sector + desc_sectors) * 512]
    text = descriptor.split(b"\0", 1)[0].decode("ascii", "replace")
    match = re.search(r'^\s*createType\s*=\s*"?([A-Za-z]+)"?', text, re.M)
    if match is None or match.group(1) not in VMDK_SAFE_TYPES:
        kind = match.group(1) if match else "unknown"
        raise UnsafeImage(f"vmdk createType {kind} is not allowed")
    extents = re.findall(r'^\s*(?:RW|RDONLY|NOACCESS)\s+\d+\s+\w+\s+"([^"]*)"', text, re.M)
    if len(extents) > 1:
        raise UnsafeImage("a VMDK descriptor refers to extents in other files")
    return Inspection("vmdk", capacity * 512)


def _vhd(footer: bytes) -> Inspection:
    if len(footer) < 56:
        raise UnsafeImage("vhd footer is truncated")
    return Inspection("vhd", struct.unpack_from(">Q", footer, 48)[0])


def _iso(head: bytes) -> Inspection:
    if len(head) < 0x8082:
        return Inspection("iso", None)
    blocks = struct.unpack_from("<I", head, 0x8050)[0]
    block_size = struct.unpack_from("<H", head, 0x8080)[0]
    return Inspection("iso", blocks * block_size)
