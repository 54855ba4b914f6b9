"""Volume quotas: the quota-set API, 413s on create and extend, and concurrent creates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from cumulo.config import BusSettings, Settings
from cumulo.db import Database, migrate
from cumulo.db.models.volume import Volume
from cumulo.manager import start_managers, stop_managers
from cumulo.rpc import Bus, make_bus
from cumulo.runtime import Runtime
from cumulo.volume import errors, quota, service
from cumulo.volume.schemas import CreateVolume
from tests.databases import ENGINES, fresh_database
from tests.fakes import ADMIN_PROJECT, DEMO, DEMO_PROJECT
from tests.unit.volume.conftest import (
    ADMIN_H,
    ADMIN_URL,
    DEMO_H,
    DEMO_URL,
    available_volume,
    create_volume,
)

QUOTA_URL = f"{DEMO_URL}/os-quota-sets/{DEMO_PROJECT}"
ADMIN_QUOTA_URL = f"{ADMIN_URL}/os-quota-sets/{DEMO_PROJECT}"
KEYS = {
    "id", "volumes", "snapshots", "gigabytes", "backups", "backup_gigabytes", "groups",
    "per_volume_gigabytes", "volumes___DEFAULT__", "snapshots___DEFAULT__",
    "gigabytes___DEFAULT__",
}  # fmt: skip


async def _set(api: httpx.AsyncClient, **limits: object) -> httpx.Response:
    return await api.put(ADMIN_QUOTA_URL, json={"quota_set": limits}, headers=ADMIN_H)


async def test_show_defaults_and_usage(api: httpx.AsyncClient, bus: Bus) -> None:
    await available_volume(api, size=2)
    shown = (await api.get(QUOTA_URL, headers=DEMO_H)).json()["quota_set"]
    assert set(shown) == KEYS
    assert (shown["id"], shown["volumes"], shown["gigabytes"]) == (DEMO_PROJECT, 10, 1000)
    assert shown["volumes___DEFAULT__"] == -1 and shown["per_volume_gigabytes"] == -1
    used = (await api.get(f"{QUOTA_URL}?usage=True", headers=DEMO_H)).json()["quota_set"]
    assert used["volumes"] == {"limit": 10, "in_use": 1, "reserved": 0}
    assert used["gigabytes"] == {"limit": 1000, "in_use": 2, "reserved": 0}
    assert used["gigabytes___DEFAULT__"]["in_use"] == 2
    defaults = (await api.get(f"{QUOTA_URL}/defaults", headers=DEMO_H)).json()["quota_set"]
    assert set(defaults) == KEYS
    limits = (await api.get(f"{DEMO_URL}/limits", headers=DEMO_H)).json()["limits"]["absolute"]
    assert (limits["totalVolumesUsed"], limits["totalGigabytesUsed"]) == (1, 2)
    other = await api.get(f"{DEMO_URL}/os-quota-sets/{ADMIN_PROJECT}", headers=DEMO_H)
    assert other.status_code == 403


async def test_update_and_reset_by_admin_only(api: httpx.AsyncClient, bus: Bus) -> None:
    denied = await api.put(QUOTA_URL, json={"quota_set": {"volumes": 1}}, headers=DEMO_H)
    assert denied.status_code == 403
    resp = await _set(api, volumes=5, gigabytes="20")
    assert resp.status_code == 200
    assert (resp.json()["quota_set"]["volumes"], resp.json()["quota_set"]["gigabytes"]) == (5, 20)
    assert "id" not in resp.json()["quota_set"]
    bad = [
        ({"colour": 1}, "Bad key(s) in quota set: colour"),
        ({"volumes": -2}, "volumes must be >= -1"),
        ({"volumes": "many"}, "volumes must be an integer."),
    ]
    for body, message in bad:
        resp = await _set(api, **body)
        assert resp.status_code == 400
        assert resp.json()["badRequest"]["message"] == message
    await available_volume(api)
    under = await _set(api, volumes=0)
    assert under.json()["badRequest"]["message"] == (
        "Quota volumes limit must be equal or greater than existing resources."
    )
    assert (await api.delete(ADMIN_QUOTA_URL, headers=DEMO_H)).status_code == 403
    assert (await api.delete(ADMIN_QUOTA_URL, headers=ADMIN_H)).status_code == 200
    shown = (await api.get(QUOTA_URL, headers=DEMO_H)).json()["quota_set"]
    assert (shown["volumes"], shown["gigabytes"]) == (10, 1000)


async def test_create_and_extend_over_quota_are_413(api: httpx.AsyncClient, bus: Bus) -> None:
    await _set(api, volumes=1, gigabytes=3)
    volume = await available_volume(api, size=2)
    too_big = await api.post(f"{DEMO_URL}/volumes", json={"volume": {"size": 2}}, headers=DEMO_H)
    assert too_big.status_code == 413
    assert too_big.json()["overLimit"]["message"] == (
        "Requested volume or snapshot exceeds allowed gigabytes quota. Requested 2G, quota is "
        "3G and 2G has been consumed."
    )
    too_many = await api.post(f"{DEMO_URL}/volumes", json={"volume": {"size": 1}}, headers=DEMO_H)
    assert too_many.status_code == 413
    assert too_many.json()["overLimit"]["message"] == (
        "Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    )
    extend = await api.post(
        f"{DEMO_URL}/volumes/{volume['id']}/action", json={"os-extend": {"new_size": 4}},
        headers=DEMO_H,
    )  # fmt: skip
    assert extend.status_code == 413
    await _set(api, volumes=5, per_volume_gigabytes=1)
    per_volume = await api.post(f"{DEMO_URL}/volumes", json={"volume": {"size": 2}}, headers=DEMO_H)
    assert per_volume.json()["overLimit"]["message"] == (
        "Requested volume size 2G is larger than maximum allowed limit 1G."
    )
    listed = await api.get(f"{DEMO_URL}/volumes", headers=DEMO_H)
    assert len(listed.json()["volumes"]) == 1
    # Another project's usage is its own.
    await create_volume(api, url=ADMIN_URL, headers=ADMIN_H, size=3)


@pytest.fixture(params=ENGINES)
async def engine_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime with the volume (and image) managers on a fresh database of each engine."""
    async with fresh_database(request.param, tmp_path) as url:
        await migrate.upgrade(url)
        settings = Settings(state_dir=tmp_path, database={"url": url})  # type: ignore[arg-type]
        runtime = Runtime(settings=settings, db=Database(url, pool_size=20))
        runtime.bus = make_bus(BusSettings(transport="memory", call_timeout=10.0))
        managers = await start_managers(runtime, ["image", "volume"])
        try:
            yield runtime
        finally:
            await stop_managers(managers)
            await runtime.close()


async def test_concurrent_creates_never_exceed_the_quota(engine_runtime: Runtime) -> None:
    runtime = engine_runtime
    async with runtime.db.write() as session:
        await quota.set_limits(session, DEMO_PROJECT, {"volumes": 3, "gigabytes": 1000})

    async def one() -> str:
        try:
            await service.create_volume(runtime, DEMO, CreateVolume(size=1))
        except errors.VolumeLimitExceeded:
            return "refused"
        return "created"

    outcomes = await asyncio.gather(*(one() for _ in range(12)))
    assert outcomes.count("created") == 3
    async with runtime.db.read() as session:
        count = await session.scalar(
            select(func.count(Volume.id)).where(Volume.project_id == DEMO_PROJECT)
        )
    assert count == 3
