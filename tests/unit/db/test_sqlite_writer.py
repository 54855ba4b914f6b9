"""SQLite on the event loop's thread: a writer waits for another process's write lock
without freezing the loop, and gives up with the database's error past its wait."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from cumulo.db import Database, sqlite_inloop
from cumulo.db import engine as db_engine


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[Database, Path]]:
    path = tmp_path / "lock.db"
    database = Database(f"sqlite:///{path}")
    async with database.write() as session:
        await session.execute(text("CREATE TABLE t (v INTEGER)"))
    yield database, path
    await database.dispose()


def _other_process_writer(path: Path) -> sqlite3.Connection:
    """What another process (``cumulo audit --repair``) holding the write lock looks like."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    return other


async def _ticks_while(work: asyncio.Task[None], seconds: float) -> int:
    ticks = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await asyncio.sleep(0.01)
        ticks += 1
    assert not work.done(), "the write finished while another process held the lock"
    return ticks


async def test_writer_waits_for_another_process_without_blocking_the_loop(
    db: tuple[Database, Path],
) -> None:
    database, path = db
    other = _other_process_writer(path)

    async def write() -> None:
        async with database.write() as session:
            await session.execute(text("INSERT INTO t VALUES (2)"))

    work = asyncio.create_task(write())
    ticks = await _ticks_while(work, 0.3)
    assert ticks >= 10, f"the loop ran only {ticks} times in 0.3 s while the writer waited"
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(work, 5)
    async with database.read() as session:
        values = sorted((await session.scalars(text("SELECT v FROM t"))).all())
    assert values == [1, 2]


async def test_writer_gives_up_when_the_lock_is_never_released(
    db: tuple[Database, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, path = db
    monkeypatch.setattr(db_engine, "SQLITE_LOCK_WAIT", 0.2)
    other = _other_process_writer(path)
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with database.write() as session:
                await session.execute(text("INSERT INTO t VALUES (3)"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    async with database.write() as session:
        await session.execute(text("INSERT INTO t VALUES (4)"))
    async with database.read() as session:
        assert (await session.scalars(text("SELECT v FROM t"))).all() == [4]


@pytest.mark.parametrize("checkpointer", [True, False], ids=["checkpointer", "none"])
async def test_the_wal_is_checkpointed_off_the_loop(
    db: tuple[Database, Path], monkeypatch: pytest.MonkeyPatch, checkpointer: bool
) -> None:
    """Commits never checkpoint (``wal_autocheckpoint=0``): without the checkpointer the
    WAL holds every commit; with it, the WAL goes back to its start after each checkpoint
    its thread finishes, so it stays a few commits long."""
    database, path = db
    monkeypatch.setattr(sqlite_inloop, "CHECKPOINT_EVERY_COMMITS", 20)
    if not checkpointer:
        database._checkpointer = None
    for value in range(1000):
        async with database.write() as session:
            await session.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})
        running = database._checkpointer and database._checkpointer._running
        if running:
            await running
    async with database.read() as session:
        assert await session.scalar(text("PRAGMA wal_autocheckpoint")) == 0
        assert await session.scalar(text("SELECT count(*) FROM t")) == 1000
    wal_pages = (await asyncio.to_thread(Path(f"{path}-wal").stat)).st_size // 4096
    assert wal_pages < 100 if checkpointer else wal_pages >= 1000
