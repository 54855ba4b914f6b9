"""Server lists on SQLite, PostgreSQL and MariaDB: NULL ordering, keyset pages, tags, regexes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cumulo.db.models.instances import InstanceTag
from cumulo.runtime import Runtime
from tests import compute_rows
from tests.databases import ENGINES, api_client, runtime_on
from tests.fakes import DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import DEMO, at
from tests.unit.compute.servers.conftest import SERVERS, add, at_time

Cloud = tuple[Runtime, httpx.AsyncClient]


@pytest.fixture(params=ENGINES)
async def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cloud]:
    async with runtime_on(request.param, tmp_path) as runtime, api_client(runtime) as client:
        yield runtime, client


async def names(api: httpx.AsyncClient, params: dict[str, str]) -> list[str]:
    r = await api.get(SERVERS, params=params, headers=at("2.100", DEMO))
    assert r.status_code == 200, r.text
    return [s["name"] for s in r.json()["servers"]]


async def test_sorting_and_paging_agree_everywhere(cloud: Cloud) -> None:
    runtime, api = cloud
    rows: list[Any] = []
    for minute, (key, host) in enumerate(
        [(None, "b"), ("k1", None), (None, "a"), ("k2", "a"), ("k1", "c")]
    ):
        rows.append(
            compute_rows.instance(
                DEMO_PROJECT,
                DEMO_USER,
                display_name=f"s{minute}",
                key_name=key,
                host=host,
                locked=minute % 2 == 1,
                created_at=at_time(minute),
            )
        )
    await add(runtime, *rows)
    await add(runtime, InstanceTag(instance_uuid=rows[1].uuid, tag="x"))
    ids = {row.display_name: row.uuid for row in rows}
    for key, direction, order in [
        ("key_name", "asc", ["s0", "s2", "s1", "s4", "s3"]),
        ("key_name", "desc", ["s3", "s4", "s1", "s2", "s0"]),
        ("locked", "asc", ["s0", "s2", "s4", "s1", "s3"]),
        ("display_name", "desc", ["s4", "s3", "s2", "s1", "s0"]),
    ]:
        sort = {"sort_key": key, "sort_dir": direction}
        assert await names(api, sort) == order, (key, direction)
        pages: list[str] = []
        marker: dict[str, str] = {}
        while True:
            page = await names(api, {**sort, "limit": "2", **marker})
            pages += page
            if len(page) < 2:
                break
            marker = {"marker": ids[page[-1]]}
        assert pages == order, (key, direction)
    assert await names(api, {"tags": "x"}) == ["s1"]
    assert await names(api, {"not-tags-any": "x", "name": "^s[0-2]$"}) == ["s2", "s0"]
