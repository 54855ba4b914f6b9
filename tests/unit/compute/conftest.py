"""Helpers the compute tests share; the ``api`` client is the shared one over the whole cloud."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cumulo.db.models.identity import Domain, Project
from cumulo.runtime import Runtime
from tests.fakes import ADMIN_PROJECT, DEMO_PROJECT

ADMIN = {"X-Auth-Token": "admin-token"}
DEMO = {"X-Auth-Token": "demo-token"}
OTHER_PROJECT = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e"


def at(version: str, token: dict[str, str] = ADMIN) -> dict[str, str]:
    """Headers asking for compute microversion ``version``."""
    return {**token, "OpenStack-API-Version": f"compute {version}"}


@pytest.fixture
async def projects(runtime: Runtime) -> list[str]:
    """The identity rows of the test projects, which flavor access checks exist."""
    async with runtime.db.write() as session:
        session.add(Domain(id="default", name="Default"))
        await session.flush()
        for project_id, name in (
            (ADMIN_PROJECT, "admin"),
            (DEMO_PROJECT, "demo"),
            (OTHER_PROJECT, "other"),
        ):
            session.add(Project(id=project_id, name=name, domain_id="default"))
    return [ADMIN_PROJECT, DEMO_PROJECT, OTHER_PROJECT]


def fault(response: httpx.Response) -> dict[str, Any]:
    """The one ``{"<faultName>": {"code", "message"}}`` of a Nova error body."""
    body = response.json()
    assert len(body) == 1, body
    (inner,) = body.values()
    assert inner["code"] == response.status_code
    return dict(inner)


async def make_flavor(
    api: httpx.AsyncClient, name: str, version: str = "2.1", /, **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "ram": 256, "vcpus": 1, "disk": 1, **fields}
    r = await api.post("/compute/v2.1/flavors", json={"flavor": body}, headers=at(version))
    assert r.status_code == 200, r.text
    return dict(r.json()["flavor"])
