"""Opening the database, and the sessions every service uses.

SQLite (embedded mode) runs on the event loop's thread (``sqlite_inloop``) in WAL
mode, and its writers are serialised inside the process with an asyncio lock and
``BEGIN IMMEDIATE``, so two coroutines never race to upgrade a read lock (which
SQLite answers with an immediate "database is locked"). PostgreSQL and MariaDB
take concurrent writers as they are.

A SQLite session begins, commits and closes through its synchronous ``Session``:
on ``sqlite_inloop`` nothing in them suspends, so no cancellation can cut them
short, and the separate task ``AsyncSession``'s own ``__aexit__`` runs its close in
(to shield it from one) would cost three turns of the loop per session, the
greenlet ``AsyncSession`` runs each call in a few dozen microseconds more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cumulo.db import sqlite_inloop
from cumulo.exception import Conflict

registry.register("sqlite.inloop", "cumulo.db.sqlite_inloop", "SQLiteDialect_inloop")

SQLITE_LOCK_WAIT = 30.0
"""How long a writer waits for another process to release SQLite's write lock."""


def make_engine(url: str, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        engine = create_async_engine(_in_loop(url), pool_size=pool_size, max_overflow=-1, **kwargs)
        sqlite_inloop.configure(engine.sync_engine)
        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    if url.startswith("mysql"):
        kwargs["pool_recycle"] = 3600
    return create_async_engine(url, **kwargs)


def _in_loop(url: str) -> str:
    """Any SQLite URL (``sqlite+aiosqlite://`` included) on ``sqlite_inloop``'s driver."""
    _scheme, _, rest = url.partition(":")
    return f"sqlite+inloop:{rest}"


class Database:
    """An engine plus session factories: ``read()`` for queries, ``write()`` for changes.

    ``write()`` commits on success and rolls back on any exception.
    """

    def __init__(self, url: str, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, echo=echo)
        self.is_sqlite = url.startswith("sqlite")
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer_bind = self.engine.execution_options(**{sqlite_inloop.WRITER: True})
        """SQLite writers: ``BEGIN IMMEDIATE`` takes the write lock when they begin."""
        path = self.engine.url.database if self.is_sqlite else None
        self._checkpointer = (
            sqlite_inloop.Checkpointer(path) if path and path != ":memory:" else None
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        if not self.is_sqlite:
            async with self._sessions() as session:
                yield session
            return
        session = self._sessions()
        try:
            yield session
        finally:
            session.sync_session.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        if self._write_lock is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock:
            session = await self._begin_sqlite_writer()
            try:
                yield session
            except BaseException:
                session.sync_session.rollback()
                raise
            else:
                session.sync_session.commit()
                if self._checkpointer is not None:
                    self._checkpointer.committed()
            finally:
                session.sync_session.close()

    async def _begin_sqlite_writer(self) -> AsyncSession:
        """A session holding SQLite's write lock; while another process holds it, waits
        on the loop (see ``sqlite_inloop``)."""
        delay = 0.001
        deadline = time.monotonic() + SQLITE_LOCK_WAIT
        while True:
            session = AsyncSession(self._writer_bind, expire_on_commit=False)
            try:
                if sqlite_inloop.begins_in_loop(self._writer_bind):
                    session.sync_session.connection()
                else:
                    await session.connection()
                return session
            except OperationalError as error:
                session.sync_session.close()
                if not sqlite_inloop.is_locked(error) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def dispose(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await self.engine.dispose()


@asynccontextmanager
async def conflict_on_duplicate(message: str) -> AsyncIterator[None]:
    """Turn a unique-constraint violation inside the block into ``Conflict(message)``."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(message) from exc
