"""Helpers for the Neutron API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import ENGINES, api_client, runtime_on

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
    async with runtime_on(request.param, tmp_path) as runtime, api_client(runtime) as client:
        yield client
