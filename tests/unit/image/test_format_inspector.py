"""The format inspector on crafted headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo.image.format_inspector import UnsafeImage, check_declared, inspect_file
from tests.unit.image import crafted


def inspect(tmp_path: Path, data: bytes, declared: str) -> tuple[str, int | None]:
    path = tmp_path / "image"
    path.write_bytes(data)
    found = inspect_file(path)
    check_declared(found, declared)
    return found.format, found.virtual_size


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (b"plain bytes" * 100, "raw", ("raw", 1100)),
        (b"", "raw", ("raw", 0)),
        (crafted.qcow2(), "qcow2", ("qcow2", 1 << 30)),
        (crafted.qcow2(version=2), "qcow2", ("qcow2", 1 << 30)),
        (crafted.vmdk_sparse(), "vmdk", ("vmdk", 2048 * 512)),
        (crafted.vmdk_sparse("streamOptimized"), "vmdk", ("vmdk", 2048 * 512)),
        (crafted.vhd(), "vhd", ("vhd", 1 << 20)),
        (crafted.vhdx(), "vhdx", ("vhdx", None)),
        (crafted.iso(), "iso", ("iso", 20 * 2048)),
        (crafted.iso(), "raw", ("iso", 20 * 2048)),
        (b"\0" * 600, "vdi", ("raw", 600)),
    ],
)
def test_accepts(tmp_path: Path, data: bytes, declared: str, expected: tuple) -> None:
    assert inspect(tmp_path, data, declared) == expected


@pytest.mark.parametrize(
    ("data", "declared", "reason"),
    [
        (crafted.qcow2(backing=b"/etc/passwd"), "qcow2", "backing file"),
        (crafted.qcow2(data_file=True), "qcow2", "external data file"),
        (crafted.qcow2(length=4096), "qcow2", "truncated"),
        (crafted.qcow2()[:50], "qcow2", "truncated"),
        (crafted.qcow2()[:80], "qcow2", "truncated"),
        (crafted.qcow2(version=7), "qcow2", "version"),
        (b"raw data" * 64, "qcow2", "data is raw"),
        (crafted.qcow2(), "raw", "data is qcow2"),
        (crafted.vmdk_descriptor(), "vmdk", "other files"),
        (crafted.vmdk_descriptor(), "raw", "other files"),
        (crafted.vmdk_sparse("monolithicFlat"), "vmdk", "createType"),
        (crafted.vmdk_sparse(extents=2), "vmdk", "other files"),
        (crafted.vhd(), "raw", "data is vhd"),
    ],
)
def test_refuses(tmp_path: Path, data: bytes, declared: str, reason: str) -> None:
    with pytest.raises(UnsafeImage, match=reason):
        inspect(tmp_path, data, declared)


def test_bad_cluster_size(tmp_path: Path) -> None:
    data = bytearray(crafted.qcow2())
    data[20:24] = (30).to_bytes(4, "big")
    with pytest.raises(UnsafeImage, match="inconsistent"):
        inspect(tmp_path, bytes(data), "qcow2")
