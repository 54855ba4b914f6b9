"""Image data on local disk: streamed in under a temporary name, renamed when complete."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cumulo.image.errors import ImageTooLarge

CHUNK = 1 << 20
MAX_IMAGE_SIZE = 1 << 40  # 1 TiB, Glance's image_size_cap default


@dataclass(frozen=True)
class Written:
    """A fully received upload still under its temporary name."""

    path: Path
    size: int
    checksum: str
    os_hash_value: str


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, image_id: str) -> Path:
        return self.root / image_id

    def exists(self, image_id: str) -> bool:
        return self.path(image_id).exists()

    async def receive(self, chunks: AsyncIterator[bytes], limit: int | None = None) -> Written:
        """Write ``chunks`` to a temporary file, hashing as they arrive.

        The temporary file is removed if the stream fails or exceeds ``limit``
        (``MAX_IMAGE_SIZE`` by default).
        """
        limit = MAX_IMAGE_SIZE if limit is None else limit
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        tmp = self.root / f".{uuid.uuid4().hex}.part"
        md5, sha512, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
        handle = await asyncio.to_thread(open, tmp, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ImageTooLarge(reason=f"{size} bytes exceeds {limit}")
                md5.update(chunk)
                sha512.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise
        return Written(tmp, size, md5.hexdigest(), sha512.hexdigest())

    async def commit(self, written: Written, image_id: str) -> None:
        await asyncio.to_thread(os.replace, written.path, self.path(image_id))

    async def delete(self, image_id: str) -> None:
        await asyncio.to_thread(self.path(image_id).unlink, missing_ok=True)

    async def read(self, image_id: str) -> AsyncIterator[bytes]:
        """The image's data in chunks, read as the client consumes them."""
        handle = await asyncio.to_thread(open, self.path(image_id), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()
