"""The identity service on each engine cumulo supports: SQLite, PostgreSQL, MariaDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo.db import migrate
from cumulo.identity.bootstrap import bootstrap_identity
from cumulo.identity.tokens import DatabaseTokenValidator
from tests.databases import ENGINES, fresh_database
from tests.unit.identity.conftest import (
    ADMIN_PASSWORD,
    DEMO_PASSWORD,
    PUBLIC_URL,
    client_for,
    login,
    make_runtime,
    make_settings,
)


@pytest.mark.parametrize("engine", ENGINES)
async def test_bootstrap_tokens_and_crud(engine: str, tmp_path: Path) -> None:
    async with fresh_database(engine, tmp_path) as url:
        await migrate.upgrade(url)
        settings = make_settings(tmp_path, url)
        rt = make_runtime(settings)
        try:
            assert await bootstrap_identity(rt.db, settings, PUBLIC_URL, ADMIN_PASSWORD, "d")
            assert not await bootstrap_identity(rt.db, settings, "http://b", "x", DEMO_PASSWORD)
            async with client_for(rt) as client:
                token = await login(client)
                auth = {"X-Auth-Token": token}
                assert isinstance(rt.token_validator, DatabaseTokenValidator)
                rt.token_validator.forget_all()  # validate from the database, not the cache
                subject = {**auth, "X-Subject-Token": token}
                assert (
                    await client.get("/identity/v3/auth/tokens", headers=subject)
                ).status_code == 200
                listing = await client.get(
                    "/identity/v3/role_assignments?effective&include_names", headers=auth
                )
                assert len(listing.json()["role_assignments"]) == 8
                dup = {"project": {"name": "admin"}}
                assert (
                    await client.post("/identity/v3/projects", json=dup, headers=auth)
                ).status_code == 409
                created = await client.post(
                    "/identity/v3/domains", json={"domain": {"name": "d"}}, headers=auth
                )
                domain_url = f"/identity/v3/domains/{created.json()['domain']['id']}"
                project = {"project": {"name": "p", "domain_id": created.json()["domain"]["id"]}}
                assert (
                    await client.post("/identity/v3/projects", json=project, headers=auth)
                ).status_code == 201
                await client.patch(domain_url, json={"domain": {"enabled": False}}, headers=auth)
                assert (await client.delete(domain_url, headers=auth)).status_code == 204
                assert (
                    await client.delete("/identity/v3/auth/tokens", headers=subject)
                ).status_code == 204
        finally:
            await rt.close()
