"""Password hashing with argon2id, off the event loop.

Verifying costs tens of milliseconds by design, so it runs in a worker thread
(argon2 releases the GIL). A login for an unknown user still pays for one
verify against a throw-away hash, so response time does not tell an attacker
which user names exist.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cumulo.config import IdentitySettings


@functools.lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hasher(settings: IdentitySettings) -> PasswordHasher:
    return _hasher(settings.password_hash_time_cost, settings.password_hash_memory_kib)


@functools.lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash("not-a-password")


async def hash_password(settings: IdentitySettings, password: str) -> str:
    return await asyncio.to_thread(hasher(settings).hash, password)


def _verify(ph: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return ph.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(
    settings: IdentitySettings, stored: str | None, password: str | None
) -> bool:
    """Whether ``password`` matches ``stored``; as slow when there is nothing to match."""
    ph = hasher(settings)
    if stored is None or not password:
        dummy = _dummy_hash(settings.password_hash_time_cost, settings.password_hash_memory_kib)
        await asyncio.to_thread(_verify, ph, dummy, password or "")
        return False
    return await asyncio.to_thread(_verify, ph, stored, password)


def needs_rehash(settings: IdentitySettings, stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than the configured ones."""
    try:
        return hasher(settings).check_needs_rehash(stored)
    except InvalidHashError:
        return True
