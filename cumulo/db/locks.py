"""Row locks that serialise a check-then-write across processes (quota checks).

``hold_row`` upserts the row keyed by ``key`` into ``model``'s table and so
holds its lock until the transaction ends: concurrent transactions holding
the same key run their count-and-insert one after the other. On SQLite
every writer is serialised already (``Database.write`` begins IMMEDIATE).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.ext.asyncio import AsyncSession


async def hold_row(session: AsyncSession, model: Any, **key: Any) -> None:
    dialect = session.get_bind().dialect.name
    first = next(iter(key))
    if dialect == "postgresql":
        pg = postgresql.insert(model).values(**key)
        await session.execute(
            pg.on_conflict_do_update(index_elements=list(key), set_={first: pg.excluded[first]})
        )
    elif dialect in ("mysql", "mariadb"):
        my = mysql.insert(model).values(**key)
        await session.execute(my.on_duplicate_key_update({first: my.inserted[first]}))
