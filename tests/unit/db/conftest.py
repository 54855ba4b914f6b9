from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cumulo.db import migrate
from tests.databases import ENGINES, fresh_database


@pytest.fixture(params=ENGINES)
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def db_url(empty_db_url: str) -> str:
    """A database on each engine, migrated to the latest schema."""
    await migrate.upgrade(empty_db_url)
    return empty_db_url
