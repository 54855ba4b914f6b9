"""Private flavors: invisible to other projects until an admin grants them access."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes import DEMO_PROJECT
from tests.unit.compute.conftest import ADMIN, DEMO, OTHER_PROJECT, at, fault, make_flavor

FLAVORS = "/compute/v2.1/flavors"
ACTION = f"{FLAVORS}/secret/action"


@pytest.fixture
async def secret(api: httpx.AsyncClient, projects: list[str]) -> dict[str, Any]:
    return await make_flavor(api, "secret", id="secret", **{"os-flavor-access:is_public": False})


def grant(project: str) -> dict[str, Any]:
    return {"addTenantAccess": {"tenant": project}}


def revoke(project: str) -> dict[str, Any]:
    return {"removeTenantAccess": {"tenant": project}}


async def _visible_to_demo(api: httpx.AsyncClient) -> tuple[list[str], int]:
    listed = await api.get(f"{FLAVORS}/detail", headers=DEMO)
    shown = await api.get(f"{FLAVORS}/secret", headers=DEMO)
    return [f["id"] for f in listed.json()["flavors"]], shown.status_code


async def test_granting_access_shows_a_private_flavor(
    api: httpx.AsyncClient, secret: dict[str, Any]
) -> None:
    assert await _visible_to_demo(api) == ([], 404)
    r = await api.post(ACTION, json=grant(DEMO_PROJECT), headers=ADMIN)
    assert r.status_code == 200
    assert r.json() == {"flavor_access": [{"flavor_id": "secret", "tenant_id": DEMO_PROJECT}]}
    assert await _visible_to_demo(api) == (["secret"], 200)
    r = await api.get(f"{FLAVORS}/secret/os-flavor-access", headers=ADMIN)
    assert r.json() == {"flavor_access": [{"flavor_id": "secret", "tenant_id": DEMO_PROJECT}]}
    r = await api.post(ACTION, json=revoke(DEMO_PROJECT), headers=ADMIN)
    assert r.status_code == 200
    assert r.json() == {"flavor_access": []}
    assert await _visible_to_demo(api) == ([], 404)


async def test_admin_lists_private_flavors_by_is_public(
    api: httpx.AsyncClient, secret: dict[str, Any]
) -> None:
    await make_flavor(api, "open", id="open")

    async def ids(query: str) -> list[str]:
        r = await api.get(f"{FLAVORS}?{query}", headers=ADMIN)
        return [f["id"] for f in r.json()["flavors"]]

    assert await ids("") == ["open"]
    assert await ids("is_public=false") == ["secret"]
    assert await ids("is_public=None") == ["open", "secret"]
    assert await ids("is_public=none") == ["open", "secret"]
    r = await api.get(f"{FLAVORS}?is_public=None", headers=DEMO)
    assert [f["id"] for f in r.json()["flavors"]] == ["open"]


@pytest.mark.parametrize(
    ("body", "version", "status", "message"),
    [
        (grant("0f" * 16), "2.1", 400, f"Project ID {'0f' * 16} is not a valid project."),
        (revoke(OTHER_PROJECT), "2.1", 404, "Flavor access not found for "),
        (
            {"addTenantAccess": {}},
            "2.1",
            400,
            "Invalid input for field/attribute addTenantAccess. Value: {}. "
            "'tenant' is a required property",
        ),
        (
            {"addTenantAccess": {"tenant": ""}},
            "2.1",
            400,
            "Invalid input for field/attribute tenant. Value: . '' should be non-empty",
        ),
        ({"dance": {}}, "2.1", 400, "There is no such action: dance"),
        ({"addTenantAccess": {}, "removeTenantAccess": {}}, "2.1", 400, "Malformed request body"),
        ([], "2.1", 400, "Malformed request body"),
    ],
)
async def test_access_errors(
    api: httpx.AsyncClient,
    secret: dict[str, Any],
    body: Any,
    version: str,
    status: int,
    message: str,
) -> None:
    r = await api.post(ACTION, json=body, headers=at(version))
    assert r.status_code == status, r.text
    assert fault(r)["message"].startswith(message)


async def test_granting_twice_conflicts(api: httpx.AsyncClient, secret: dict[str, Any]) -> None:
    assert (await api.post(ACTION, json=grant(OTHER_PROJECT), headers=ADMIN)).status_code == 200
    r = await api.post(ACTION, json=grant(OTHER_PROJECT), headers=ADMIN)
    assert r.status_code == 409
    assert fault(r)["message"].startswith("Flavor access already exists for flavor ")
    assert fault(r)["message"].endswith(f"and project {OTHER_PROJECT} combination.")


async def test_public_flavors_have_no_access_list(
    api: httpx.AsyncClient, projects: list[str]
) -> None:
    await make_flavor(api, "open", id="open")
    r = await api.get(f"{FLAVORS}/open/os-flavor-access", headers=ADMIN)
    assert r.status_code == 404
    assert fault(r)["message"] == "Access list not available for public flavors."
    r = await api.post(f"{FLAVORS}/open/action", json=grant(DEMO_PROJECT), headers=at("2.7"))
    assert r.status_code == 409
    assert fault(r)["message"] == "Can not add access to a public flavor."
    # Before 2.7 Nova recorded the grant all the same.
    r = await api.post(f"{FLAVORS}/open/action", json=grant(DEMO_PROJECT), headers=at("2.6"))
    assert r.status_code == 200


async def test_only_admins_manage_access(api: httpx.AsyncClient, secret: dict[str, Any]) -> None:
    assert (await api.post(ACTION, json=grant(DEMO_PROJECT), headers=DEMO)).status_code == 403
    assert (await api.post(ACTION, json=revoke(DEMO_PROJECT), headers=DEMO)).status_code == 403
    r = await api.get(f"{FLAVORS}/secret/os-flavor-access", headers=DEMO)
    assert r.status_code == 403
    r = await api.post(f"{FLAVORS}/nope/action", json=grant(DEMO_PROJECT), headers=ADMIN)
    assert r.status_code == 404
