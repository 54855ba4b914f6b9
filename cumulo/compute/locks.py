"""One lock per instance on a compute host (Nova's ``utils.synchronized(instance.uuid)``).

Everything a host does to one instance (build, stop, start, reboot, delete,
the power-state sync) holds its lock, so two of them never drive the same
guest at once. A lock lives while someone holds or waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class InstanceLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, uuid: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(uuid, asyncio.Lock())
        self._users[uuid] = self._users.get(uuid, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[uuid] -= 1
            if not self._users[uuid]:
                del self._users[uuid], self._locks[uuid]

    def busy(self, uuid: str) -> bool:
        """Whether some work holds, or waits for, the instance's lock."""
        return uuid in self._users
