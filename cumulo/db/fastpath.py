"""Prebuilt statements run on SQLite's own connection, without SQLAlchemy's execution.

On the embedded mode's boot path a statement costs about 20 µs in ``sqlite3`` and
80 to 100 µs around it in SQLAlchemy (the greenlet hop of ``AsyncSession``, the
execution context, the cursor result and its metadata), even when the statement is
built once. ``Prepared`` wraps such a statement; ``run`` executes it in the
session's transaction and returns its rows (``Rows``), the same on every backend:

- on SQLite the statement is compiled once per set of parameter names, as
  SQLAlchemy would compile it (the same SQL, bind order, column defaults and
  ``onupdate``, and the types' own bind and result processors), and run on the
  session's ``sqlite3`` connection; a driver error is wrapped as SQLAlchemy wraps
  it (``IntegrityError`` and the rest);
- a statement this module cannot reproduce (expanding ``IN``, ``RETURNING``, SQL
  defaults, escaped bind names), and every other backend, go through the session's
  connection as before.

Like ``session.execute``, ``run`` flushes the session's pending changes first. It is
Core execution otherwise: an ``UPDATE`` does not refresh the ORM objects a session
holds. Engine events (``before_cursor_execute``, ``echo``) do not see the SQLite fast
path.
"""

from __future__ import annotations

import functools
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, Update, UpdateBase

from cumulo.db.sqlite_inloop import begins_in_loop

_REQUIRED = object()
_CONNECTION = "cumulo_fastpath"
"""Session info key: (the session's transaction, its ``sqlite3`` connection, dialect)."""


class Rows:
    """A statement's rows (all fetched) and its row count: the part of SQLAlchemy's
    ``Result`` callers use."""

    __slots__ = ("_rows", "inserted_primary_key", "rowcount")

    def __init__(
        self,
        rows: Sequence[Any],
        rowcount: int = -1,
        inserted_primary_key: tuple[Any, ...] | None = None,
    ) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.inserted_primary_key = inserted_primary_key
        """The primary key of the row a one-row ``INSERT`` added."""

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            self._raise_not_one()
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> Rows:
        return Rows([row[0] for row in self._rows], self.rowcount)

    def _raise_not_one(self) -> None:
        if not self._rows:
            raise exc.NoResultFound("No row was found when one was required")
        raise exc.MultipleResultsFound("Multiple rows were found when exactly one was required")


class Prepared:
    """A statement built once, run by ``run`` with bound values."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._is_dml = isinstance(statement, (Insert, Update))
        self._is_insert = isinstance(statement, Insert)
        self._plans: dict[tuple[bool, tuple[str, ...]] | None, _Plan | None] = {}

    def plan(self, dialect: Dialect, params: Mapping[str, Any], many: bool) -> _Plan | None:
        """The SQLite plan for these parameter names (None: take the normal path)."""
        key = (many, tuple(sorted(params))) if self._is_dml else None
        try:
            return self._plans[key]
        except KeyError:
            assert isinstance(self.statement, ClauseElement)
            names = key[1] if key else ()
            plan = self._plans[key] = _Plan.compile(self.statement, dialect, names, many)
            return plan


Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""One set of bound values, or a list of them (one execution each, as ``executemany``)."""


async def run(session: AsyncSession, prepared: Prepared, params: Params | None = None) -> Rows:
    """Execute ``prepared`` in ``session``'s transaction, its pending changes flushed."""
    params = params or {}
    sync = session.sync_session
    if sync.autoflush and not sync._is_clean():
        await session.flush()
    sqlite = _sqlite_connection(session)
    if sqlite is None:
        if begins_in_loop(sync.bind):
            # Nothing suspends in SQLite on the loop: no greenlet is needed to begin.
            sqlite = _remember(session, sync.connection())
        if sqlite is None:
            connection = await session.connection()
            return await _through_sqlalchemy(connection, prepared, params)
    raw, dialect = sqlite
    first = params if isinstance(params, Mapping) else params[0]
    plan = prepared.plan(dialect, first, first is not params)
    if plan is None:
        return await _through_sqlalchemy(await session.connection(), prepared, params)
    return plan.execute(raw, params)


async def _through_sqlalchemy(
    connection: AsyncConnection, prepared: Prepared, params: Params
) -> Rows:
    copied: Any = dict(params) if isinstance(params, Mapping) else [dict(p) for p in params]
    result = await connection.execute(prepared.statement, copied)
    rows = result.all() if result.returns_rows else []
    key = None
    if prepared._is_insert and isinstance(copied, dict) and result.inserted_primary_key:
        key = tuple(result.inserted_primary_key)
    return Rows(rows, result.rowcount, key)


def _sqlite_connection(session: AsyncSession) -> tuple[sqlite3.Connection, Dialect] | None:
    """The ``sqlite3`` connection of the session's transaction (and its dialect), once
    ``run`` has seen it."""
    sync = session.sync_session
    remembered = sync.info.get(_CONNECTION)
    if remembered is None:
        return None
    transaction, raw, dialect = remembered
    current = sync.get_transaction()
    if current is not transaction or not current.is_active:
        return None
    return raw, dialect


def _remember(session: AsyncSession, connection: Any) -> tuple[sqlite3.Connection, Dialect] | None:
    raw = connection.connection.driver_connection
    if not isinstance(raw, sqlite3.Connection):
        return None
    sync = session.sync_session
    sync.info[_CONNECTION] = (sync.get_transaction(), raw, connection.dialect)
    return raw, connection.dialect


@dataclass(frozen=True)
class _Bind:
    """Where one ``?`` takes its value from."""

    key: str
    name: str
    value: Any
    """The statement's own value, or ``_REQUIRED``."""
    process: Callable[[Any], Any] | None
    default: Any = None
    """A column default (``ColumnDefault``) computed at each execution, as ``onupdate``."""


class _DefaultContext:
    """What a column default's callable may read of SQLAlchemy's execution context."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.current_parameters = params
        self.current_column: Any = None

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        return self.current_parameters


class _Plan:
    """One statement compiled for SQLite: its SQL, binds in order and row shape."""

    def __init__(
        self,
        sql: str,
        binds: list[_Bind],
        fields: list[str] | None,
        processors: list[tuple[int, Callable[[Any], Any]]],
        primary_key: list[str | None] | None,
    ) -> None:
        self.sql = sql
        self.primary_key = primary_key
        """For an ``INSERT``, the bind name of each primary key column (None: the rowid)."""
        self.binds = binds
        self.has_defaults = any(b.default is not None for b in binds)
        self.processors = processors
        self.row: Any = namedtuple("Row", fields, rename=True) if fields else None
        if self.row is not None:
            self.make_row = _row_maker(self.row, len(fields or ()), processors)

    @classmethod
    def compile(
        cls, statement: ClauseElement, dialect: Dialect, column_keys: Sequence[str], many: bool
    ) -> _Plan | None:
        compiled = statement.compile(
            dialect=dialect, column_keys=list(column_keys), for_executemany=many
        )
        assert isinstance(compiled, SQLCompiler)
        if not _reproducible(compiled, statement):
            return None
        defaults = _prefetch_defaults(compiled)
        if defaults is None:
            return None
        binds_by_name = {name: bind for bind, name in compiled.bind_names.items()}
        binds = []
        for name in compiled.positiontup or ():
            bind = binds_by_name[name]
            if bind.callable is not None or bind.expanding or bind.literal_execute:
                return None
            value = _REQUIRED if bind.required else bind.value
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            binds.append(_Bind(bind.key, name, value, process, defaults.get(name)))
        fields: list[str] | None = None
        processors: list[tuple[int, Callable[[Any], Any]]] = []
        if compiled._result_columns:
            fields = [entry.keyname for entry in compiled._result_columns]
            for index, entry in enumerate(compiled._result_columns):
                process = entry.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    processors.append((index, process))
        return cls(compiled.string, binds, fields, processors, _primary_key(compiled, statement))

    def execute(self, raw: sqlite3.Connection, params: Params) -> Rows:
        if not isinstance(params, Mapping):
            return self._execute_many(raw, [self._values(p)[0] for p in params])
        values, merged = self._values(params)
        try:
            cursor = raw.execute(self.sql, values)
            fetched = cursor.fetchall() if self.row is not None else []
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                self.sql, values, error, sqlite3.Error, dialect=None
            ) from error
        if self.row is None:
            if self.primary_key is None:
                return Rows([], cursor.rowcount)
            key = tuple(
                cursor.lastrowid if name is None else merged.get(name) for name in self.primary_key
            )
            return Rows([], cursor.rowcount, key)
        return Rows(list(map(self.make_row, fetched)), cursor.rowcount)

    def _execute_many(self, raw: sqlite3.Connection, values: list[list[Any]]) -> Rows:
        try:
            cursor = raw.executemany(self.sql, values)
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                self.sql, values, error, sqlite3.Error, dialect=None
            ) from error
        return Rows([], cursor.rowcount)

    def _values(self, params: Mapping[str, Any]) -> tuple[list[Any], Mapping[str, Any]]:
        """The values of the ``?`` in order, and the parameters with column defaults."""
        if self.has_defaults:
            params = self._with_defaults(params)
        values = []
        for bind in self.binds:
            if bind.key in params:
                value = params[bind.key]
            elif bind.name in params:
                value = params[bind.name]
            elif bind.value is _REQUIRED:
                raise exc.InvalidRequestError(
                    f"A value is required for bind parameter {bind.key!r}", code="cd3x"
                )
            else:
                value = bind.value
            values.append(value if bind.process is None else bind.process(value))
        return values, params

    def _with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters plus each prefetched column default, as SQLAlchemy's execution
        context computes them (after the statement's own values)."""
        merged = dict(params)
        context = _DefaultContext(merged)
        for bind in self.binds:
            default = bind.default
            if default is None:
                continue
            if default.is_scalar:
                merged[bind.name] = default.arg
            else:
                context.current_column = default.column
                merged[bind.name] = default.arg(context)
        return merged


def _row_maker(
    row: type[tuple[Any, ...]], width: int, processors: list[tuple[int, Callable[[Any], Any]]]
) -> Callable[[tuple[Any, ...]], Any]:
    """A function making one result row from a fetched tuple, each column through its
    type's processor: generated once per statement, as ``namedtuple`` generates its
    class, since a loop over the columns of every row costs more than the query (a
    scheduler reads 100 000 nodes)."""
    new = tuple.__new__
    if not processors:
        return functools.partial(new, row)
    by_index = dict(processors)
    columns = ", ".join(f"p{i}(r[{i}])" if i in by_index else f"r[{i}]" for i in range(width))
    names: dict[str, Any] = {f"p{i}": process for i, process in by_index.items()}
    names.update(new=new, row=row)
    return eval(f"lambda r: new(row, ({columns},))", names)


def _reproducible(compiled: SQLCompiler, statement: ClauseElement) -> bool:
    """Whether this module runs the statement exactly as SQLAlchemy would."""
    if not compiled.positional or compiled.escaped_bind_names:
        return False
    if compiled.literal_execute_params or compiled.post_compile_params:
        return False
    if isinstance(statement, UpdateBase) and compiled.returning:
        return False
    return not getattr(compiled, "_render_postcompile", False)


def _prefetch_defaults(compiled: SQLCompiler) -> dict[str, Any] | None:
    """The bind names of columns whose Python-side default or ``onupdate`` the execution
    computes, with that default; None if one of them is not a plain value or callable."""
    columns = [(c, c.default) for c in compiled.insert_prefetch] + [
        (c, c.onupdate) for c in compiled.update_prefetch
    ]
    if not columns:
        return {}
    name_of = compiled._within_exec_param_key_getter
    defaults = {}
    for column, default in columns:
        if default is None or not (default.is_scalar or default.is_callable):
            return None
        defaults[name_of(column)] = default
    return defaults


def _primary_key(compiled: SQLCompiler, statement: ClauseElement) -> list[str | None] | None:
    """Where a one-row ``INSERT``'s primary key comes from, as SQLAlchemy finds it: the
    autoincrement column from the cursor's ``lastrowid``, the others from the values."""
    if not isinstance(statement, Insert):
        return None
    table = statement.table
    autoincrement = getattr(table, "_autoincrement_column", None)
    name_of = compiled._within_exec_param_key_getter
    return [None if c is autoincrement else name_of(c) for c in table.primary_key]
