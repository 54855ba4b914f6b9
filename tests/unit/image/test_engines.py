"""Listing in SQL and the concurrent quota check, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cumulo.config import ImageSettings
from tests.databases import ENGINES, api_client, runtime_on

DEMO = {"X-Auth-Token": "demo-token"}
OCTETS = {**DEMO, "Content-Type": "application/octet-stream"}


@pytest.fixture(params=ENGINES)
async def engine_api(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    image = ImageSettings(quota_image_size_total=1)
    async with runtime_on(request.param, tmp_path, image=image) as runtime:
        async with api_client(runtime) as client:
            yield client


async def create(api: httpx.AsyncClient, **body: object) -> str:
    resp = await api.post("/image/v2/images", json=body, headers=DEMO)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def names(api: httpx.AsyncClient, query: str) -> list[str]:
    resp = await api.get(f"/image/v2/images?{query}", headers=DEMO)
    assert resp.status_code == 200, resp.text
    return [i["name"] for i in resp.json()["images"]]


async def test_filters_sorting_and_pages(engine_api: httpx.AsyncClient) -> None:
    await create(
        engine_api,
        name="a",
        tags=["x", "y"],
        os_distro="cirros",
        **{"owner_specified.openstack.object": "images/a"},
    )
    await create(engine_api, name="b", tags=["x"], min_ram=512)
    await create(engine_api, name=None, disk_format="qcow2")
    assert await names(engine_api, "tag=x&tag=y") == ["a"]
    assert await names(engine_api, "os_distro=cirros") == ["a"]
    assert await names(engine_api, "owner_specified.openstack.object=images/a") == ["a"]
    assert await names(engine_api, "sort=min_ram:desc,name:asc") == ["b", None, "a"]
    assert await names(engine_api, "sort_key=name&sort_dir=asc") == [None, "a", "b"]
    seen: list[str | None] = []
    url = "/image/v2/images?sort_key=name&sort_dir=desc&limit=1"
    while url:
        body = (await engine_api.get(url, headers=DEMO)).json()
        seen += [i["name"] for i in body["images"]]
        url = "/image" + body["next"] if "next" in body else ""
    assert seen == ["b", "a", None]


async def test_concurrent_uploads_cannot_overflow_the_quota(
    engine_api: httpx.AsyncClient,
) -> None:
    ids = [await create(engine_api, disk_format="raw", container_format="bare") for _ in range(2)]
    both = asyncio.Event()
    started = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal started
        yield b"a" * 300_000
        started += 1
        if started == 2:
            both.set()
        await both.wait()
        yield b"b" * 300_000

    results = await asyncio.gather(
        *(
            engine_api.put(f"/image/v2/images/{i}/file", content=chunks(), headers=OCTETS)
            for i in ids
        )
    )
    assert sorted(r.status_code for r in results) == [204, 413]
    shown = [(await engine_api.get(f"/image/v2/images/{i}", headers=DEMO)).json() for i in ids]
    assert sorted(i["status"] for i in shown) == ["active", "queued"]
