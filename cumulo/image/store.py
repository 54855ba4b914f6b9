"""Image data on local disk: streamed in under a temporary name, renamed when complete.

The upload path is the hot one (a cloud image is gigabytes): incoming chunks
are gathered on the event loop into ``BUFFER``-sized blocks, and each block
is hashed (md5 and sha512 at once) and written by worker threads while the
loop already fills the next block. hashlib and file writes release the GIL,
so the two hashes and the write run in parallel, and the loop makes three
thread hops per block instead of one per network chunk.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BUFFER = 8 << 20
READ_CHUNK = 1 << 20


class TooLarge(Exception):
    """The stream went past the byte limit it was given."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes received")
        self.size = size


@dataclass(frozen=True)
class Written:
    """A fully received upload still under its temporary name."""

    path: Path
    size: int
    checksum: str
    os_hash_value: str


class _BlockWriter:
    """Hashes and writes blocks in worker threads, one block in flight at a time."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()
        self.pending: asyncio.Future[Any] | None = None

    async def submit(self, block: bytes | bytearray) -> None:
        await self.drain()
        self.pending = asyncio.gather(
            asyncio.to_thread(self.md5.update, block),
            asyncio.to_thread(self.sha512.update, block),
            asyncio.to_thread(self.handle.write, block),
        )

    async def drain(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            await pending


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, image_id: str) -> Path:
        return self.root / image_id

    def exists(self, image_id: str) -> bool:
        return self.path(image_id).exists()

    async def receive(self, chunks: AsyncIterator[bytes], limit: int) -> Written:
        """Write ``chunks`` to a temporary file, hashing as they arrive.

        ``TooLarge`` once more than ``limit`` bytes arrive. The temporary file
        is removed whenever this does not return, cancellation included.
        """
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        tmp = self.root / f".{uuid.uuid4().hex}.part"
        handle = await asyncio.to_thread(open, tmp, "wb")
        writer = _BlockWriter(handle)
        try:
            size = await self._pump(chunks, writer, limit)
            await asyncio.to_thread(handle.close)
        except BaseException:
            await asyncio.shield(self._discard(writer, handle, tmp))
            raise
        return Written(tmp, size, writer.md5.hexdigest(), writer.sha512.hexdigest())

    @staticmethod
    async def _pump(chunks: AsyncIterator[bytes], writer: _BlockWriter, limit: int) -> int:
        size = 0
        block = bytearray()
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise TooLarge(size)
            block += chunk
            if len(block) >= BUFFER:
                await writer.submit(block)
                block = bytearray()
        if block:
            await writer.submit(block)
        await writer.drain()
        return size

    @staticmethod
    async def _discard(writer: _BlockWriter, handle: IO[bytes], tmp: Path) -> None:
        try:
            await writer.drain()
        except BaseException:  # the upload already failed: only clean up
            pass
        finally:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(tmp.unlink, missing_ok=True)

    async def commit(self, written: Written, image_id: str) -> None:
        await asyncio.to_thread(os.replace, written.path, self.path(image_id))

    async def discard(self, written: Written) -> None:
        await asyncio.to_thread(written.path.unlink, missing_ok=True)

    async def delete(self, image_id: str) -> None:
        await asyncio.to_thread(self.path(image_id).unlink, missing_ok=True)

    async def read(self, image_id: str) -> AsyncIterator[bytes]:
        """The image's data in chunks, read as the client consumes them."""
        handle = await asyncio.to_thread(open, self.path(image_id), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)
