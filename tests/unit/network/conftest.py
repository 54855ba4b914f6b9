"""Helpers for the Neutron API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cumulo.api.app import build_app
from cumulo.config import Settings
from cumulo.db import Database, migrate
from cumulo.runtime import Runtime
from tests.databases import ENGINES, fresh_database
from tests.fakes import STATIC_TOKENS, StaticTokenValidator

ADMIN = {"X-Auth-Token": "admin-token"}
DEMO = {"X-Auth-Token": "demo-token"}
V2 = "/networking/v2.0"


class Neutron:
    """Thin helpers over the in-process client: create things, expect codes."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api = api

    async def create(
        self, kind: str, body: dict[str, Any], headers: dict[str, str] = DEMO, code: int = 201
    ) -> dict[str, Any]:
        path = kind.replace("_", "-") + "s"
        resp = await self.api.post(f"{V2}/{path}", json={kind: body}, headers=headers)
        assert resp.status_code == code, resp.text
        return resp.json()[kind] if code == 201 else resp.json()["NeutronError"]

    async def network(self, headers: dict[str, str] = DEMO, **body: Any) -> dict[str, Any]:
        return await self.create("network", {"name": "net", **body}, headers)

    async def subnet(
        self, net_id: str, cidr: str, headers: dict[str, str] = DEMO, **body: Any
    ) -> dict[str, Any]:
        version = 6 if ":" in cidr else 4
        attrs = {"network_id": net_id, "cidr": cidr, "ip_version": version, **body}
        return await self.create("subnet", attrs, headers)

    async def port(
        self, net_id: str, headers: dict[str, str] = DEMO, **body: Any
    ) -> dict[str, Any]:
        return await self.create("port", {"network_id": net_id, **body}, headers)


@pytest.fixture
def neutron(api: httpx.AsyncClient) -> Neutron:
    return Neutron(api)


@pytest.fixture(params=ENGINES)
async def engine_api(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process API on a fresh, migrated database of each engine."""
    async with fresh_database(request.param, tmp_path) as url:
        await migrate.upgrade(url)
        settings = Settings(state_dir=tmp_path, database={"url": url})  # type: ignore[arg-type]
        runtime = Runtime(
            settings=settings, db=Database(url), token_validator=StaticTokenValidator(STATIC_TOKENS)
        )
        transport = httpx.ASGITransport(app=build_app(runtime))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client
        finally:
            await runtime.close()
