"""Small, hand-made image headers: valid ones and the malicious kinds Glance must refuse."""

from __future__ import annotations

import struct

CLUSTER = 1 << 16


def qcow2(
    *,
    version: int = 3,
    backing: bytes = b"",
    data_file: bool = False,
    size: int = 1 << 30,
    l1_offset: int = 3 * CLUSTER,
    length: int = 4 * CLUSTER,
) -> bytes:
    """A qcow2 header (optionally naming a backing file or an external data file)."""
    backing_offset = 512 if backing else 0
    header = struct.pack(
        ">4sIQIIQIIQQIIQ",
        b"QFI\xfb",
        version,
        backing_offset,
        len(backing),
        16,
        size,
        0,
        1,
        l1_offset,
        CLUSTER,
        1,
        0,
        0,
    )
    if version == 3:
        header += struct.pack(">QQQII", 4 if data_file else 0, 0, 0, 4, 104)
    data = header.ljust(512, b"\0") + backing
    return data.ljust(length, b"\0")


def vmdk_sparse(
    create_type: str = "monolithicSparse", extents: int = 1, capacity_sectors: int = 2048
) -> bytes:
    lines = ["# Disk DescriptorFile", "version=1", f'createType="{create_type}"']
    lines += [f'RW {capacity_sectors} SPARSE "part{n}.vmdk"' for n in range(extents)]
    descriptor = ("\n".join(lines) + "\n").encode()
    header = struct.pack("<4sIIQQQQ", b"KDMV", 1, 3, capacity_sectors, 128, 1, 20)
    return header.ljust(512, b"\0") + descriptor.ljust(20 * 512, b"\0")


def vmdk_descriptor() -> bytes:
    return (
        b'# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'
        b'RW 2048 FLAT "/etc/passwd" 0\n'
    )


def vhd(size: int = 1 << 20) -> bytes:
    footer = b"conectix" + b"\0" * 40 + struct.pack(">Q", size)
    return b"\0" * 4096 + footer.ljust(512, b"\0")


def vhdx() -> bytes:
    return b"vhdxfile".ljust(8192, b"\0")


def iso(blocks: int = 20) -> bytes:
    data = bytearray(0x8800)
    data[0x8001:0x8006] = b"CD001"
    data[0x8050:0x8054] = struct.pack("<I", blocks)
    data[0x8080:0x8082] = struct.pack("<H", 2048)
    return bytes(data)
