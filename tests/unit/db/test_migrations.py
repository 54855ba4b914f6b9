"""The same migrations build the same schema on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

import cumulo.db.models  # noqa: F401
from cumulo.db import Database, migrate
from cumulo.db.base import Base
from cumulo.db.engine import conflict_on_duplicate
from cumulo.db.models.identity import Domain
from cumulo.exception import Conflict


async def test_upgrade_reaches_head_and_is_repeatable(empty_db_url: str) -> None:
    assert await migrate.current_revision(empty_db_url) is None
    await migrate.upgrade(empty_db_url)
    await migrate.upgrade(empty_db_url)
    assert await migrate.current_revision(empty_db_url) == migrate.head_revision()
    assert await migrate.is_current(empty_db_url)


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await db.dispose()
    assert diff == []


async def test_timestamps_keep_microseconds(db_url: str) -> None:
    db = Database(db_url)
    stamp = datetime.datetime(2026, 11, 24, 12, 30, 45, 123456)
    try:
        async with db.write() as session:
            session.add(Domain(id="d1", name="d1", created_at=stamp))
        async with db.read() as session:
            row = (await session.execute(select(Domain).where(Domain.id == "d1"))).scalar_one()
    finally:
        await db.dispose()
    assert row.created_at == stamp


async def test_duplicate_becomes_conflict_and_leaves_nothing(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.write() as session:
            session.add(Domain(id="d1", name="same"))
        with pytest.raises(Conflict, match="duplicate domain"):
            async with conflict_on_duplicate("duplicate domain"), db.write() as session:
                session.add(Domain(id="d2", name="same"))
                session.add(Domain(id="d3", name="other"))
        async with db.read() as session:
            ids = (await session.execute(select(Domain.id).order_by(Domain.id))).scalars().all()
    finally:
        await db.dispose()
    assert ids == ["d1"]
