"""SQLite run on the event loop's own thread, for the embedded mode.

aiosqlite sends every statement to a worker thread and wakes the loop when it is
done: two thread hops and a loop iteration per statement, which cost more than
the statement itself (microseconds on a local file in WAL mode) and, on the boot
path, halved the boots per second. This dialect is the standard library's
``sqlite3`` behind SQLAlchemy's asyncio API: it says it is async, so
``create_async_engine`` takes it, and its calls return without yielding.

Running on the loop is safe because nothing here waits long. In WAL mode readers
never wait for writers, and this process serialises its own writers before they
begin (``engine.Database.write``). What is left is another process writing the
same file (``cumulo audit --repair`` beside a running cloud): a writer's
``BEGIN IMMEDIATE`` does not wait for it inside SQLite but fails at once with
"database is locked", and ``Database.write`` waits it out on the loop
(``is_locked``), so the cloud never freezes behind another process.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

from sqlalchemy import event, exc, pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import URL
from sqlalchemy.util.concurrency import await_, in_greenlet

LOG = logging.getLogger(__name__)

READ_BUSY_TIMEOUT_MS = 200
"""How long a statement may wait inside SQLite for a lock (rare in WAL mode:
a checkpoint or recovery by another process) before it fails."""


class InLoopCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """SQLAlchemy's asyncio results close an async driver's cursor here; a
        ``sqlite3`` cursor keeps its rows until they are read."""


class InLoopConnection(sqlite3.Connection):
    def cursor(self, factory: Any = InLoopCursor) -> Any:
        return super().cursor(factory)


class SQLiteDialect_inloop(SQLiteDialect_pysqlite):
    driver = "inloop"
    is_async = True
    supports_statement_cache = True
    connected = False
    """Whether the engine made its first connection: until then the pool runs its
    first-connect work under an asyncio lock, so a session must begin in SQLAlchemy's
    greenlet; after it, nothing in beginning one suspends (``begins_in_loop``)."""

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool

    @classmethod
    def get_async_dialect_cls(cls, url: URL) -> type[SQLiteDialect_inloop]:
        return cls

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        return args, {**kwargs, "factory": InLoopConnection, "timeout": 0}

    def on_connect(self) -> Any:
        functions = super().on_connect()

        def configure(dbapi_conn: Any) -> None:
            functions(dbapi_conn)
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                # ``Checkpointer`` does it, off the loop.
                "wal_autocheckpoint=0",
                "foreign_keys=ON",
                f"busy_timeout={READ_BUSY_TIMEOUT_MS}",
            ):
                dbapi_conn.execute(f"PRAGMA {pragma}")
            self.connected = True

        return configure

    def do_begin(self, dbapi_connection: Any) -> None:
        """``BEGIN``, or ``BEGIN IMMEDIATE`` for a writer, failing at once when locked."""
        conn = dbapi_connection.driver_connection
        if not dbapi_connection.info.pop(WRITER, False):
            conn.execute("BEGIN")
            return
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")


WRITER = "cumulo_writer"
"""Execution option (and connection info key) of a connection that will write."""


async def _nothing() -> None:
    return None


def configure(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _mark_writer(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITER):
            conn.connection.info[WRITER] = True

    @event.listens_for(engine, "before_cursor_execute")
    def _await_once(*_args: Any) -> None:
        # ``AsyncConnection.execute`` refuses a driver that never awaited (its guard
        # against sync drivers); a no-op await satisfies it without leaving the thread.
        # Outside SQLAlchemy's greenlet (``engine.Database`` beginning, committing and
        # closing a SQLite session directly) there is no guard to satisfy.
        if in_greenlet():
            await_(_nothing())


def begins_in_loop(bind: Any) -> bool:
    """Whether a session on ``bind`` (an engine or connection) may begin without
    SQLAlchemy's greenlet: SQLite on the loop, past the engine's first connection."""
    dialect = getattr(bind, "dialect", None)
    return isinstance(dialect, SQLiteDialect_inloop) and dialect.connected


def is_locked(error: exc.OperationalError) -> bool:
    """Whether ``error`` is another process holding the database's write lock."""
    return isinstance(error.orig, sqlite3.OperationalError) and "locked" in str(error.orig)


CHECKPOINT_EVERY_COMMITS = 200
"""About SQLite's own cadence: it checkpoints when the WAL passes 1 000 pages, and a
commit on the boot path writes about five."""
RESTART_PAST_FRAMES = 4000
"""A WAL longer than this is restarted: under writes that never pause, a passive
checkpoint never catches up with the WAL's end, and SQLite only goes back to its
start after one did."""


class Checkpointer:
    """Copies the WAL into the database file in a worker thread, every
    ``CHECKPOINT_EVERY_COMMITS`` commits of this process.

    SQLite does it itself in the commit that takes the WAL past ``wal_autocheckpoint``
    pages, and in WAL mode with ``synchronous=NORMAL`` that is the one commit that syncs
    the database file: on the event loop it took up to a few ms instead of ten µs, and
    the whole cloud waited. The pool's connections leave it to this one.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._commits = 0
        self._running: asyncio.Task[None] | None = None
        self._connection: sqlite3.Connection | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY_COMMITS or self._running is not None:
            return
        self._commits = 0
        self._running = asyncio.get_running_loop().create_task(asyncio.to_thread(self._run))
        self._running.add_done_callback(self._done)

    def _run(self) -> None:
        """A passive checkpoint, which no writer waits for; a restart when the WAL has
        grown long, which writers on the loop wait out as they wait for another process's
        write lock (``engine.Database.write``)."""
        if self._connection is None:
            self._connection = sqlite3.connect(
                self._path, timeout=1.0, isolation_level=None, check_same_thread=False
            )
        _busy, frames, _copied = self._connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
        if frames > RESTART_PAST_FRAMES:
            self._connection.execute("PRAGMA wal_checkpoint(RESTART)")

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running = None
        if not task.cancelled() and task.exception() is not None:
            LOG.warning("Checkpointing %s failed: %s", self._path, task.exception())

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        if self._connection is not None:
            self._connection.close()
            self._connection = None
