"""Images on disk: the cache of base files and the disks of one instance
(Nova's ``imagecache`` and ``imagebackend`` Qcow2 backend).

A base file is fetched once per image into ``_base/<sha1 of the image id>``,
its checksum verified against what the image service recorded, and converted
to raw with the source format given explicitly (``-f``), never probed: a raw
image holding a qcow2 header must stay raw data, not become a disk that names
a backing file of the host. An instance's root disk is a qcow2 overlay on its
base, grown to the flavor's root disk; ephemeral and swap disks are blank
qcow2 files.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote, urlparse

from cumulo.image.messages import ImageMeta
from cumulo.virt.errors import FatalVirtError, VirtError

GiB = 1024**3
CHUNK = 1024 * 1024
CONVERTIBLE = {"qcow2", "raw", "vmdk", "vdi", "vhd", "vhdx", "ami", "aki", "ari"}
"""Disk formats a base is made from; ``ami``/``aki``/``ari`` are raw data."""


async def qemu_img(*args: str) -> str:
    """Run ``qemu-img``; its standard output, or ``VirtError`` with its message."""
    proc = await asyncio.create_subprocess_exec(
        "qemu-img",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise VirtError(reason=f"qemu-img {args[0]} failed: {err.decode(errors='replace').strip()}")
    return out.decode()


async def virtual_size(path: Path, fmt: str) -> int:
    info = json.loads(await qemu_img("info", "--output=json", "-f", fmt, str(path)))
    return int(info["virtual-size"])


def _source_path(image: ImageMeta) -> Path:
    if not image.location:
        raise VirtError(reason=f"image {image.id} has no data this host can read")
    url = urlparse(image.location)
    if url.scheme != "file":
        raise VirtError(reason=f"image {image.id} is stored at {url.scheme}://, not on this host")
    path = Path(unquote(url.path))
    if not path.is_file():
        raise VirtError(reason=f"image {image.id} data is not on this host ({path})")
    return path


def _copy_verified(source: Path, target: Path, image: ImageMeta) -> None:
    """Copy ``source`` to ``target`` hashing as it goes; a mismatch is fatal (the image
    is corrupt everywhere, no other host would do better)."""
    algo = image.os_hash_algo if image.os_hash_value else None
    multihash = hashlib.new(algo) if algo else None
    md5 = hashlib.md5(usedforsecurity=False) if image.checksum else None
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(CHUNK):
            dst.write(chunk)
            if multihash is not None:
                multihash.update(chunk)
            if md5 is not None:
                md5.update(chunk)
    if multihash is not None and multihash.hexdigest() != image.os_hash_value:
        raise FatalVirtError(reason=f"image {image.id} data does not match its {algo} hash")
    if md5 is not None and md5.hexdigest() != image.checksum:
        raise FatalVirtError(reason=f"image {image.id} data does not match its checksum")


class ImageCache:
    """Base files, one per image, fetched once and kept while cached."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def base_path(self, image_id: str) -> Path:
        return self.base_dir / hashlib.sha1(image_id.encode(), usedforsecurity=False).hexdigest()

    async def fetch(self, image: ImageMeta) -> Path:
        """The image as a raw base file in the cache."""
        base = self.base_path(image.id)
        async with self._locks[image.id]:
            if base.is_file():
                return base
            fmt = image.disk_format or "raw"
            if fmt not in CONVERTIBLE:
                raise FatalVirtError(reason=f"image {image.id} has disk format {fmt!r}")
            source = _source_path(image)
            self.base_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.base_dir, prefix=".fetch-") as scratch:
                fetched = Path(scratch) / "data"
                await asyncio.to_thread(_copy_verified, source, fetched, image)
                if fmt in ("raw", "ami", "aki", "ari"):
                    ready = fetched
                else:
                    ready = Path(scratch) / "raw"
                    try:
                        await qemu_img("convert", "-f", fmt, "-O", "raw", str(fetched), str(ready))
                    except VirtError as exc:
                        raise FatalVirtError(reason=exc.kwargs["reason"]) from exc
                os.replace(ready, base)
        return base


class InstanceDisks:
    """The files of one instance under ``INSTANCES_PATH/<uuid>``."""

    def __init__(self, instances_path: Path, uuid: str) -> None:
        self.dir = instances_path / uuid

    @property
    def root(self) -> Path:
        return self.dir / "disk"

    @property
    def ephemeral(self) -> Path:
        return self.dir / "disk.eph0"

    @property
    def swap(self) -> Path:
        return self.dir / "disk.swap"

    @property
    def config_drive(self) -> Path:
        return self.dir / "disk.config"

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    @property
    def domain_xml(self) -> Path:
        return self.dir / "libvirt.xml"

    def create_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.console_log.touch()

    async def create_root(self, base: Path, root_gb: int) -> None:
        """A qcow2 overlay on ``base``, as big as the flavor's root disk (or the image)."""
        size = await virtual_size(base, "raw")
        wanted = root_gb * GiB
        if wanted and wanted < size:
            raise FatalVirtError(
                reason=f"the flavor's root disk ({root_gb} GiB) is smaller than the image "
                f"({size} bytes)"
            )
        await qemu_img(
            "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base),
            str(self.root), str(max(wanted, size)),
        )  # fmt: skip

    async def create_blank(self, path: Path, size_bytes: int) -> None:
        await qemu_img("create", "-q", "-f", "qcow2", str(path), str(size_bytes))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
