"""An identity service on a fresh database, with the real token validator and bootstrap data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cumulo.api.app import PrefixDispatcher
from cumulo.api.request_id import RequestIdMiddleware
from cumulo.config import Settings
from cumulo.db import Database
from cumulo.identity.api import build_app
from cumulo.identity.bootstrap import bootstrap_identity
from cumulo.identity.tokens import DatabaseTokenValidator
from cumulo.runtime import Runtime

ADMIN_PASSWORD = "admin-secret"
DEMO_PASSWORD = "demo-secret"
PUBLIC_URL = "http://cumulo.test"
# argon2 at its cheapest: tests check behaviour, not hashing cost.
FAST_HASH = {"password_hash_time_cost": 1, "password_hash_memory_kib": 256}


def make_settings(tmp_path: Path, url: str, **identity: Any) -> Settings:
    return Settings(
        state_dir=tmp_path,
        database={"url": url},
        identity={**FAST_HASH, **identity},
    )


def make_runtime(settings: Settings) -> Runtime:
    db = Database(settings.database_url)
    return Runtime(
        settings=settings, db=db, token_validator=DatabaseTokenValidator(db, settings.identity)
    )


def client_for(runtime: Runtime) -> httpx.AsyncClient:
    app = RequestIdMiddleware(PrefixDispatcher({"identity": build_app(runtime)}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL)


@pytest.fixture
def identity_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
async def identity_runtime(identity_settings: Settings) -> AsyncIterator[Runtime]:
    rt = make_runtime(identity_settings)
    await bootstrap_identity(rt.db, identity_settings, PUBLIC_URL, ADMIN_PASSWORD, DEMO_PASSWORD)
    yield rt
    await rt.close()


@pytest.fixture
async def keystone(identity_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(identity_runtime) as client:
        yield client


def password_auth(
    user: str = "admin",
    password: str = ADMIN_PASSWORD,
    project: str | None = "admin",
    scope: Any = None,
) -> dict[str, Any]:
    """A keystoneauth-shaped password request (names, Default domain)."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": user, "domain": {"name": "Default"}, "password": password}
            },
        }
    }
    if scope is not None:
        auth["scope"] = scope
    elif project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return {"auth": auth}


async def issue(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/identity/v3/auth/tokens", json=body)


async def login(
    client: httpx.AsyncClient,
    user: str = "admin",
    password: str = ADMIN_PASSWORD,
    project: str | None = "admin",
) -> str:
    response = await issue(client, password_auth(user, password, project))
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


@pytest.fixture
async def admin_headers(keystone: httpx.AsyncClient) -> dict[str, str]:
    return {"X-Auth-Token": await login(keystone)}


@pytest.fixture
async def demo_headers(keystone: httpx.AsyncClient) -> dict[str, str]:
    return {"X-Auth-Token": await login(keystone, "demo", DEMO_PASSWORD, "demo")}
