"""The SQLite fast path gives what SQLAlchemy gives: the same rows (datetimes, JSON,
booleans, NULLs, aggregates), row counts, column defaults and errors, in the session's
own transaction; other engines take SQLAlchemy's path through the same call."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import bindparam, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cumulo.db import Database
from cumulo.db.fastpath import Prepared, Rows, run
from cumulo.db.models.instances import Instance, InstanceFault

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, 123456)

_INSERT = Prepared(insert(Instance))
_SELECT = Prepared(select(Instance.__table__).where(Instance.uuid == bindparam("uuid")))
_COLUMNS = Prepared(
    select(Instance.uuid, Instance.locked, Instance.launched_at, Instance.meta)
    .where(Instance.project_id == bindparam("project_id"), Instance.deleted == 0)
    .order_by(Instance.uuid)
)
_COUNT = Prepared(
    select(func.count(), func.coalesce(func.sum(Instance.vcpus), 0)).where(
        Instance.project_id == bindparam("project_id")
    )
)
_UPDATE = Prepared(
    update(Instance)
    .where(Instance.uuid == bindparam("which"), Instance.task_state.is_(None))
    .values(task_state=bindparam("new_task_state"), launched_at=bindparam("now"))
)


def _instance(uuid: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "uuid": uuid,
        "project_id": "p",
        "user_id": "u",
        "display_name": "vm",
        "hostname": "vm",
        "reservation_id": "r-1",
        "flavor_id": "1",
        "flavor": {"name": "tiny", "extra_specs": {"a": "b"}, "vcpus": 1},
        "vcpus": 2,
        "memory_mb": 512,
        "root_gb": 1,
        "ephemeral_gb": 0,
        "vm_state": "building",
        "locked": True,
        "launched_at": NOW,
        "network_info": [{"id": "port", "address": "fa:16:3e:00:00:01"}],
    }
    values.update(overrides)
    return values


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


async def _sqlalchemy(db: Database, prepared: Prepared, params: dict[str, Any]) -> Any:
    async with db.write() as session:
        connection = await session.connection()
        return await connection.execute(prepared.statement, params)


async def _fast(db: Database, prepared: Prepared, params: dict[str, Any]) -> Rows:
    async with db.write() as session:
        return await run(session, prepared, params)


async def test_rows_are_sqlalchemys(db: Database) -> None:
    await _sqlalchemy(db, _INSERT, _instance("a-slow"))
    await _fast(db, _INSERT, _instance("b-fast"))
    await _fast(db, _INSERT, _instance("c-nulls", locked=False, launched_at=None, meta={}))

    for uuid in ("a-slow", "b-fast", "c-nulls"):
        expected = (await _sqlalchemy(db, _SELECT, {"uuid": uuid})).one()
        got = (await _fast(db, _SELECT, {"uuid": uuid})).one()
        assert got._fields == tuple(expected._fields)
        assert tuple(got) == tuple(expected)
        assert type(got.launched_at) is type(expected.launched_at)
        assert type(got.locked) is type(expected.locked)
    slow, fast = [(await _fast(db, _SELECT, {"uuid": u})).one() for u in ("a-slow", "b-fast")]
    assert isinstance(fast.created_at, datetime.datetime)
    for key in (
        "flavor",
        "network_info",
        "metadata",
        "locked",
        "launched_at",
        "deleted",
        "task_state",
    ):
        assert getattr(fast, key) == getattr(slow, key), key
    assert fast.launched_at == NOW
    assert fast.task_state is None and fast.locked is True and fast.flavor["extra_specs"]

    expected_rows = (await _sqlalchemy(db, _COLUMNS, {"project_id": "p"})).all()
    got_rows = (await _fast(db, _COLUMNS, {"project_id": "p"})).all()
    assert [tuple(r) for r in got_rows] == [tuple(r) for r in expected_rows]
    assert [r._fields for r in got_rows] == [tuple(r._fields) for r in expected_rows]

    expected_count = (await _sqlalchemy(db, _COUNT, {"project_id": "p"})).one()
    got_count = (await _fast(db, _COUNT, {"project_id": "p"})).one()
    assert tuple(got_count) == tuple(expected_count) == (3, 6)
    assert got_count._fields == tuple(expected_count._fields)
    assert tuple(await _fast(db, _COUNT, {"project_id": "none"})) == ((0, 0),)


async def test_updates_count_rows_and_apply_onupdate(db: Database) -> None:
    await _fast(db, _INSERT, _instance("u"))
    params = {"which": "u", "new_task_state": "spawning", "now": NOW}
    assert (await _fast(db, _UPDATE, params)).rowcount == 1
    assert (await _fast(db, _UPDATE, params)).rowcount == 0
    row = (await _fast(db, _SELECT, {"uuid": "u"})).one()
    assert row.task_state == "spawning"
    assert isinstance(row.updated_at, datetime.datetime)


async def test_errors_are_sqlalchemys(db: Database) -> None:
    await _fast(db, _INSERT, _instance("dup"))
    with pytest.raises(IntegrityError):
        await _fast(db, _INSERT, _instance("dup"))


async def test_runs_in_the_sessions_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.write() as session:
            await run(session, _INSERT, _instance("gone"))
            assert (await run(session, _SELECT, {"uuid": "gone"})).one().uuid == "gone"
            raise RuntimeError
    async with db.read() as session:
        assert (await run(session, _SELECT, {"uuid": "gone"})).first() is None

    async with db.write() as session:
        await run(session, _INSERT, _instance("pending"))
        session.add(InstanceFault(instance_uuid="pending", code=500, message="m"))
        faults = Prepared(select(InstanceFault.message))
        assert (await run(session, faults)).scalars().all() == ["m"]


async def test_sqlite_statements_skip_sqlalchemys_execution(db: Database) -> None:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    await _fast(db, _INSERT, _instance("x"))
    assert (await _fast(db, _COUNT, {"project_id": "p"})).one() == (1, 2)
    statements = [s for s in seen if "instances" in s]
    assert statements == ([] if db.is_sqlite else [statements[0], statements[1]])
