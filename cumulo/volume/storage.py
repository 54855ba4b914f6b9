"""Volume files on this machine, made and changed with ``qemu-img``.

A volume is one sparse file ``<volume_dir>/volume-<id>`` in the configured
format (qcow2 or raw). Every operation runs ``qemu-img`` as an asyncio
subprocess with an argument list (never a shell string) and raises
``StorageError`` with qemu-img's own message when it fails. Converting from
an image writes to a temporary name and renames on success, so a failed or
interrupted conversion never leaves a half-made volume behind.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from cumulo import exception

QEMU_IMG = "qemu-img"
GiB = 1 << 30


class StorageError(exception.CumuloError):
    message = "Volume storage failed: %(reason)s"


def volume_path(volume_dir: Path, volume_id: str) -> Path:
    return volume_dir.absolute() / f"volume-{volume_id}"


async def _qemu_img(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        QEMU_IMG,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        reason = err.decode(errors="replace").strip() or f"qemu-img exited {proc.returncode}"
        raise StorageError(reason=reason)
    return out.decode(errors="replace")


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        pass  # already gone, or its directory never was one: nothing to remove


async def _remove(path: Path) -> None:
    await asyncio.to_thread(_unlink, path)


async def create_blank(path: Path, disk_format: str, size_gb: int) -> None:
    """A new empty sparse volume of ``size_gb`` GiB."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    try:
        await _qemu_img("create", "-f", disk_format, str(path), f"{size_gb}G")
    except BaseException:
        await _remove(path)
        raise


async def create_from_image(
    path: Path, disk_format: str, size_gb: int, source: Path, source_format: str
) -> None:
    """The image at ``source`` converted to ``disk_format`` and grown to ``size_gb`` GiB.

    The source format is always given (``-f``) rather than probed, so a raw
    image that happens to look like qcow2 is not read as one.
    """
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        await _qemu_img(
            "convert", "-f", source_format, "-O", disk_format, str(source), str(partial)
        )
        await _qemu_img("resize", "-f", disk_format, str(partial), f"{size_gb}G")
        await asyncio.to_thread(partial.replace, path)
    except BaseException:
        await _remove(partial)
        raise


async def resize(path: Path, disk_format: str, size_gb: int) -> None:
    await _qemu_img("resize", "-f", disk_format, str(path), f"{size_gb}G")


async def delete(path: Path) -> None:
    """Remove the volume's file; nothing to do when it is already gone."""
    await _remove(path)
    await _remove(path.with_name(path.name + ".part"))


async def virtual_size(path: Path, disk_format: str) -> int:
    """The guest-visible size of the file in bytes (for tests and checks)."""
    info = json.loads(await _qemu_img("info", "-f", disk_format, "--output=json", str(path)))
    return int(info["virtual-size"])
