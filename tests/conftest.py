"""Fixtures shared by every test: a migrated database and an in-process API client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from cumulo.config import BusSettings, Settings
from cumulo.db import Database, migrate
from cumulo.manager import MANAGERS, start_managers, stop_managers
from cumulo.rpc import Bus, make_bus
from cumulo.runtime import Runtime
from cumulo.server import embedded_loop
from tests.databases import api_client
from tests.fakes import STATIC_TOKENS, StaticTokenValidator


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every test runs on ``cumulo up``'s loop, which serves older requests first."""
    return {"embedded_loop": embedded_loop}


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cumulo.db'}"
    await migrate.upgrade(url)
    return url


@pytest.fixture
async def runtime(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Runtime]:
    """A runtime on a fresh migrated SQLite database, with static test tokens."""
    settings = Settings(state_dir=tmp_path, database={"url": sqlite_url})  # type: ignore[arg-type]
    rt = Runtime(
        settings=settings,
        db=Database(sqlite_url),
        token_validator=StaticTokenValidator(STATIC_TOKENS),
    )
    yield rt
    await rt.close()


@pytest.fixture
async def bus(runtime: Runtime) -> AsyncIterator[Bus]:
    """The runtime's in-memory bus with every service's manager serving on it."""
    runtime.bus = make_bus(BusSettings(transport="memory", call_timeout=10.0))
    managers = await start_managers(runtime, MANAGERS)
    yield runtime.bus
    await stop_managers(managers)


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to every API in-process (no sockets)."""
    async with api_client(runtime) as client:
        yield client
