"""Keypair rows, per user: create, get, page through, delete."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api import pagination
from cumulo.compute import errors
from cumulo.db.engine import conflict_on_duplicate
from cumulo.db.models.compute import KeyPair


async def get_keypair(session: AsyncSession, user_id: str, name: str) -> KeyPair:
    keypair = await session.scalar(
        select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
    )
    if keypair is None:
        raise errors.KeypairNotFound(name=name, user_id=user_id)
    return keypair


_BY_NAME = [pagination.SortKey(KeyPair.name)]


async def list_keypairs(
    session: AsyncSession, user_id: str, limit: int | None = None, marker: str | None = None
) -> list[KeyPair]:
    """A user's keypairs by name (unique per user); ``marker`` is the previous page's last name."""
    stmt = pagination.apply_sort(select(KeyPair).where(KeyPair.user_id == user_id), _BY_NAME)
    if marker is not None:
        stmt = pagination.after_marker(stmt, _BY_NAME, await _marker(session, user_id, marker))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(await session.scalars(stmt))


async def _marker(session: AsyncSession, user_id: str, name: str) -> KeyPair:
    try:
        return await get_keypair(session, user_id, name)
    except errors.KeypairNotFound:
        raise errors.KeypairMarkerNotFound(marker=name) from None


async def create_keypair(session: AsyncSession, keypair: KeyPair) -> KeyPair:
    taken = await session.scalar(
        select(KeyPair.id).where(KeyPair.user_id == keypair.user_id, KeyPair.name == keypair.name)
    )
    if taken is not None:
        raise errors.KeyPairExists(key_name=keypair.name)
    async with conflict_on_duplicate(errors.KeyPairExists(key_name=keypair.name).msg):
        session.add(keypair)
        await session.flush()
    return keypair


async def delete_keypair(session: AsyncSession, user_id: str, name: str) -> None:
    result = await session.execute(
        delete(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
    )
    if not getattr(result, "rowcount", 0):
        raise errors.KeypairNotFound(name=name, user_id=user_id)
