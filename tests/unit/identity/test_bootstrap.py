"""bootstrap_identity: what a new cloud starts with, and that running it again changes nothing
but the endpoint URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from cumulo.db.models.identity import Endpoint, ImpliedRole, Role, RoleAssignment, Service, User
from cumulo.identity.bootstrap import bootstrap_identity
from cumulo.runtime import Runtime
from tests.unit.identity.conftest import (
    client_for,
    issue,
    make_runtime,
    make_settings,
    password_auth,
)


async def _count(runtime: Runtime, model: Any) -> int:
    async with runtime.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_first_run_creates_then_later_runs_keep(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    rt = make_runtime(settings)
    try:
        assert await bootstrap_identity(rt.db, settings, "http://a:8700", "pw-a", "pw-d") is True
        counts = {
            m: await _count(rt, m)
            for m in (User, Role, ImpliedRole, RoleAssignment, Service, Endpoint)
        }
        assert counts == {
            User: 2,
            Role: 3,
            ImpliedRole: 2,
            RoleAssignment: 3,
            Service: 6,
            Endpoint: 18,
        }
        assert await bootstrap_identity(rt.db, settings, "http://a:8700", "other", "other") is False
        assert {m: await _count(rt, m) for m in counts} == counts
        async with client_for(rt) as client:
            assert (await issue(client, password_auth(password="pw-a"))).status_code == 201
            assert (await issue(client, password_auth(password="other"))).status_code == 401
            demo = password_auth("demo", "pw-d", "demo")
            assert (await issue(client, demo)).status_code == 201
    finally:
        await rt.close()


async def test_endpoint_urls_follow_the_public_url(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    rt = make_runtime(settings)
    try:
        await bootstrap_identity(rt.db, settings, "http://old:8700", "pw-a", "pw-d")
        await bootstrap_identity(rt.db, settings, "http://new:9000/", "pw-a", "pw-d")
        async with rt.db.read() as session:
            urls = set(await session.scalars(select(Endpoint.url)))
        assert urls == {
            "http://new:9000/identity",
            "http://new:9000/compute/v2.1",
            "http://new:9000/image",
            "http://new:9000/networking",
            "http://new:9000/volume/v3/$(project_id)s",
        }
        assert await _count(rt, Endpoint) == 18
    finally:
        await rt.close()


async def test_region_comes_from_settings(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url, region="Lab")
    rt = make_runtime(settings)
    try:
        await bootstrap_identity(rt.db, settings, "http://a", "pw-a", "pw-d")
        async with rt.db.read() as session:
            regions = set(await session.scalars(select(Endpoint.region_id)))
        assert regions == {"Lab"}
    finally:
        await rt.close()


async def test_passwords_are_argon2id_hashes(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    rt = make_runtime(settings)
    try:
        await bootstrap_identity(rt.db, settings, "http://a", "pw-a", "pw-d")
        async with rt.db.read() as session:
            hashes = list(await session.scalars(select(User.password_hash)))
        assert all(h and h.startswith("$argon2id$") for h in hashes)
        assert not any("pw-a" in (h or "") for h in hashes)
    finally:
        await rt.close()


async def test_login_rehashes_with_new_parameters(tmp_path: Path, sqlite_url: str) -> None:
    old = make_settings(tmp_path, sqlite_url)
    rt = make_runtime(old)
    await bootstrap_identity(rt.db, old, "http://a", "pw-a", "pw-d")
    await rt.close()
    new = make_settings(tmp_path, sqlite_url, password_hash_memory_kib=512)
    rt = make_runtime(new)
    try:
        async with client_for(rt) as client:
            assert (await issue(client, password_auth(password="pw-a"))).status_code == 201
        async with rt.db.read() as session:
            stored = await session.scalar(select(User.password_hash).where(User.name == "admin"))
        assert stored is not None and "m=512," in stored
        async with client_for(rt) as client:
            assert (await issue(client, password_auth(password="pw-a"))).status_code == 201
    finally:
        await rt.close()
