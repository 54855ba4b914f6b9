"""Throw-away databases on the three engines cumulo supports.

The machine (and CI) runs PostgreSQL on 127.0.0.1:5432 (trust auth) and MariaDB
on 127.0.0.1:3306 (root, no password); each test gets a database of its own,
so tests run in parallel and leave nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomysql
import asyncpg
import httpx
import pytest

from cumulo.api.app import build_app
from cumulo.config import Settings
from cumulo.db import Database, migrate
from cumulo.runtime import Runtime
from tests.fakes import STATIC_TOKENS, StaticTokenValidator

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
]


@asynccontextmanager
async def fresh_database(engine: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on ``engine``; yields its SQLAlchemy async URL, drops it after."""
    name = f"cumulo_t_{uuid.uuid4().hex[:16]}"
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / (name + '.db')}"
        return
    if engine == "postgresql":
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
            yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
        return
    if engine == "mariadb":
        conn = await aiomysql.connect(**MARIADB, autocommit=True)
        try:
            async with conn.cursor() as cur:
                await cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            yield f"mysql+aiomysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
        finally:
            async with conn.cursor() as cur:
                await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()
        return
    raise ValueError(engine)


@asynccontextmanager
async def runtime_on(engine: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Runtime]:
    """A runtime with the static test tokens on a fresh, migrated database of ``engine``."""
    async with fresh_database(engine, tmp_path) as url:
        await migrate.upgrade(url)
        runtime = Runtime(
            settings=Settings(state_dir=tmp_path, database={"url": url}, **settings),
            db=Database(url),
            token_validator=StaticTokenValidator(STATIC_TOKENS),
        )
        try:
            yield runtime
        finally:
            await runtime.close()


@asynccontextmanager
async def api_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to every API of ``runtime`` in-process (no sockets)."""
    transport = httpx.ASGITransport(app=build_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://cumulo.test") as client:
        yield client
