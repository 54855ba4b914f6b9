"""``manifest.json``: what a build made, from what, and how to check it is still intact."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ValidationError

FORMAT_VERSION = 1
"""The builder's format: bump it when a change of the builder must rebuild existing images."""


class PackageInfo(BaseModel):
    package: str
    version: str


class KernelInfo(PackageInfo):
    release: str


class FileInfo(BaseModel):
    size: int
    sha256: str


class Manifest(BaseModel):
    format_version: int
    recipe: str
    """SHA-256 of everything of the builder that shapes the image (scripts, modules,
    command line), so that a changed init script rebuilds it."""
    marker: str
    cmdline: str
    kernel: KernelInfo
    busybox: PackageInfo
    ssh_server: PackageInfo | None
    modules: list[str]
    disk_format: str
    disk_virtual_size: int
    files: dict[str, FileInfo]
    built_at: str
    build_seconds: float

    def intact(self, directory: Path) -> bool:
        """Every file is there with the size and checksum recorded."""
        for name, info in self.files.items():
            path = directory / name
            if not path.is_file() or path.stat().st_size != info.size:
                return False
            if sha256(path) != info.sha256:
                return False
        return True


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_info(path: Path) -> FileInfo:
    return FileInfo(size=path.stat().st_size, sha256=sha256(path))


def read(path: Path) -> Manifest | None:
    """The manifest at ``path``, or ``None`` when there is none or it does not parse."""
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def write(manifest: Manifest, path: Path) -> None:
    path.write_text(manifest.model_dump_json(indent=2) + "\n")
