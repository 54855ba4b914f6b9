"""/v3/domains and /v3/projects: Keystone's shapes, filters, conflicts and refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.unit.identity.conftest import DEMO_PASSWORD, login

DOMAINS = "/identity/v3/domains"
PROJECTS = "/identity/v3/projects"


async def _create(
    keystone: httpx.AsyncClient, headers: dict[str, str], url: str, key: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await keystone.post(url, json={key: body}, headers=headers)
    assert response.status_code == 201, response.text
    entity: dict[str, Any] = response.json()[key]
    return entity


async def test_domain_crud(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = await _create(
        keystone, admin_headers, DOMAINS, "domain", {"name": "acme", "description": "Acme Inc."}
    )
    assert created == {
        "id": created["id"],
        "name": "acme",
        "description": "Acme Inc.",
        "enabled": True,
        "tags": [],
        "options": {},
        "links": {"self": f"http://cumulo.test/identity/v3/domains/{created['id']}"},
    }
    url = f"{DOMAINS}/{created['id']}"
    assert (await keystone.get(url, headers=admin_headers)).json()["domain"] == created
    patched = await keystone.patch(
        url, json={"domain": {"enabled": False, "tags": ["a"]}}, headers=admin_headers
    )
    assert patched.json()["domain"]["enabled"] is False
    assert patched.json()["domain"]["tags"] == ["a"]
    assert (await keystone.delete(url, headers=admin_headers)).status_code == 204
    missing = await keystone.get(url, headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Could not find domain: {created['id']}."


async def test_domain_list_and_filters(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _create(keystone, admin_headers, DOMAINS, "domain", {"name": "off", "enabled": False})
    listing = (await keystone.get(DOMAINS, headers=admin_headers)).json()
    assert sorted(d["name"] for d in listing["domains"]) == ["Default", "off"]
    assert listing["links"] == {
        "self": "http://cumulo.test/identity/v3/domains",
        "previous": None,
        "next": None,
    }
    by_name = (await keystone.get(DOMAINS + "?name=Default", headers=admin_headers)).json()
    assert [d["id"] for d in by_name["domains"]] == ["default"]
    disabled = (await keystone.get(DOMAINS + "?enabled=false", headers=admin_headers)).json()
    assert [d["name"] for d in disabled["domains"]] == ["off"]
    assert by_name["links"]["self"].endswith("/v3/domains?name=Default")


async def test_enabled_domain_cannot_be_deleted(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await _create(keystone, admin_headers, DOMAINS, "domain", {"name": "keep"})
    response = await keystone.delete(f"{DOMAINS}/{created['id']}", headers=admin_headers)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Cannot delete a domain that is enabled, please disable it first."
    )


async def test_deleting_a_domain_takes_its_projects_and_users(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await _create(keystone, admin_headers, DOMAINS, "domain", {"name": "gone"})
    project = await _create(
        keystone, admin_headers, PROJECTS, "project", {"name": "p", "domain_id": domain["id"]}
    )
    user = await _create(
        keystone,
        admin_headers,
        "/identity/v3/users",
        "user",
        {"name": "u", "domain_id": domain["id"]},
    )
    url = f"{DOMAINS}/{domain['id']}"
    await keystone.patch(url, json={"domain": {"enabled": False}}, headers=admin_headers)
    assert (await keystone.delete(url, headers=admin_headers)).status_code == 204
    project_url = f"{PROJECTS}/{project['id']}"
    assert (await keystone.get(project_url, headers=admin_headers)).status_code == 404
    user_url = f"/identity/v3/users/{user['id']}"
    assert (await keystone.get(user_url, headers=admin_headers)).status_code == 404


async def test_duplicate_domain_is_409(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await keystone.post(
        DOMAINS, json={"domain": {"name": "Default"}}, headers=admin_headers
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": 409,
            "message": "Conflict occurred attempting to store domain - Duplicate entry found "
            "with name Default.",
            "title": "Conflict",
        }
    }


async def test_project_crud(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = await _create(
        keystone,
        admin_headers,
        PROJECTS,
        "project",
        {"name": "web", "description": "d", "tags": ["x"], "color": "blue"},
    )
    assert created == {
        "id": created["id"],
        "name": "web",
        "domain_id": "default",
        "description": "d",
        "enabled": True,
        "parent_id": "default",
        "is_domain": False,
        "tags": ["x"],
        "options": {},
        "color": "blue",
        "links": {"self": f"http://cumulo.test/identity/v3/projects/{created['id']}"},
    }
    url = f"{PROJECTS}/{created['id']}"
    patched = await keystone.patch(
        url, json={"project": {"name": "web2", "enabled": False}}, headers=admin_headers
    )
    assert patched.status_code == 200
    assert patched.json()["project"]["name"] == "web2"
    assert patched.json()["project"]["enabled"] is False
    assert (await keystone.get(url, headers=admin_headers)).json()["project"]["name"] == "web2"
    assert (await keystone.delete(url, headers=admin_headers)).status_code == 204
    missing = await keystone.delete(url, headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Could not find project: {created['id']}."


async def test_project_filters(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await _create(keystone, admin_headers, PROJECTS, "project", {"name": "off", "enabled": False})
    names = lambda r: sorted(p["name"] for p in r.json()["projects"])  # noqa: E731
    assert names(await keystone.get(PROJECTS, headers=admin_headers)) == ["admin", "demo", "off"]
    assert names(await keystone.get(PROJECTS + "?name=demo", headers=admin_headers)) == ["demo"]
    assert names(await keystone.get(PROJECTS + "?enabled=0", headers=admin_headers)) == ["off"]
    assert names(await keystone.get(PROJECTS + "?domain_id=nope", headers=admin_headers)) == []
    in_default = await keystone.get(
        PROJECTS + "?domain_id=default&enabled=true", headers=admin_headers
    )
    assert names(in_default) == ["admin", "demo"]


async def test_duplicate_project_is_409(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await keystone.post(
        PROJECTS, json={"project": {"name": "demo"}}, headers=admin_headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "Conflict occurred attempting to store project - Duplicate entry found with name demo "
        "at domain ID default."
    )


async def test_project_in_unknown_domain_is_404(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"project": {"name": "p", "domain_id": "nowhere"}}
    response = await keystone.post(PROJECTS, json=body, headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Could not find domain: nowhere."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid input for field 'project': 'name' is a required property"),
        ({"project": {"name": ""}}, "Invalid input for field 'name': '' should be non-empty"),
        (
            {"project": {"name": "x" * 65}},
            f"Invalid input for field 'name': '{'x' * 65}' is too long",
        ),
        (
            {"project": {"name": "p", "enabled": "yes"}},
            "Invalid input for field 'enabled': 'yes' is not of type 'boolean'",
        ),
        ({"project": "p"}, "Invalid input for field 'project': 'p' is not of type 'object'"),
    ],
)
async def test_bad_project_body_is_400(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any], message: str
) -> None:
    response = await keystone.post(PROJECTS, json=body, headers=admin_headers)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message


async def test_project_update_refusals(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await _create(keystone, admin_headers, PROJECTS, "project", {"name": "fixed"})
    url = f"{PROJECTS}/{created['id']}"
    cases = [
        ({"project": {}}, "{} does not have enough properties"),
        ({"project": {"domain_id": "other"}}, "Update of `domain_id` is not allowed."),
        ({"project": {"id": "other"}}, "Cannot change ID"),
    ]
    for body, message in cases:
        response = await keystone.patch(url, json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json()["error"]["message"] == message
    same_domain = await keystone.patch(
        url, json={"project": {"domain_id": "default"}}, headers=admin_headers
    )
    assert same_domain.status_code == 200
    rename = await keystone.patch(url, json={"project": {"name": "demo"}}, headers=admin_headers)
    assert rename.status_code == 409


async def test_project_with_children_cannot_be_deleted(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    parent = await _create(keystone, admin_headers, PROJECTS, "project", {"name": "parent"})
    child = await _create(
        keystone, admin_headers, PROJECTS, "project", {"name": "child", "parent_id": parent["id"]}
    )
    assert child["parent_id"] == parent["id"]
    response = await keystone.delete(f"{PROJECTS}/{parent['id']}", headers=admin_headers)
    assert response.status_code == 403
    assert "is not a leaf in the hierarchy" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "url", "action"),
    [
        ("POST", PROJECTS, "identity:create_project"),
        ("GET", PROJECTS, "identity:list_projects"),
        ("POST", DOMAINS, "identity:create_domain"),
        ("GET", DOMAINS, "identity:list_domains"),
        ("GET", f"{DOMAINS}/default", "identity:get_domain"),
        ("PATCH", f"{DOMAINS}/default", "identity:update_domain"),
        ("DELETE", f"{DOMAINS}/default", "identity:delete_domain"),
    ],
)
async def test_member_is_forbidden(
    keystone: httpx.AsyncClient, demo_headers: dict[str, str], method: str, url: str, action: str
) -> None:
    response = await keystone.request(method, url, json={"x": {}}, headers=demo_headers)
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": 403,
            "message": f"You are not authorized to perform the requested action: {action}.",
            "title": "Forbidden",
        }
    }


async def test_member_may_read_its_own_project(keystone: httpx.AsyncClient) -> None:
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    issued = await keystone.get("/identity/v3/auth/projects", headers={"X-Auth-Token": token})
    demo_id = issued.json()["projects"][0]["id"]
    own = await keystone.get(f"{PROJECTS}/{demo_id}", headers={"X-Auth-Token": token})
    assert own.status_code == 200
    missing = await keystone.get(f"{PROJECTS}/someone-else", headers={"X-Auth-Token": token})
    assert missing.status_code == 404
    listing = await keystone.get(PROJECTS, headers={"X-Auth-Token": token})
    admin_id = next(
        p["id"]
        for p in (
            await keystone.get(
                "/identity/v3/auth/projects", headers={"X-Auth-Token": await login(keystone)}
            )
        ).json()["projects"]
        if p["name"] == "admin"
    )
    other = await keystone.get(f"{PROJECTS}/{admin_id}", headers={"X-Auth-Token": token})
    assert listing.status_code == other.status_code == 403


async def test_crud_needs_a_token(keystone: httpx.AsyncClient) -> None:
    response = await keystone.get(PROJECTS)
    assert response.status_code == 401
    assert (
        response.json()["error"]["message"] == "The request you have made requires authentication."
    )


async def test_project_create_refusals(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    other = await _create(keystone, admin_headers, DOMAINS, "domain", {"name": "other"})
    parent = await _create(
        keystone, admin_headers, PROJECTS, "project", {"name": "p", "domain_id": other["id"]}
    )
    cases = [
        ({"name": "x", "is_domain": True}, 400, "is not supported"),
        ({"name": "x", "parent_id": parent["id"]}, 400, "specifies a parent in a different domain"),
        ({"name": "x", "parent_id": "missing"}, 404, "Could not find project: missing."),
        ({"name": "x", "domain_id": "bad id!"}, 400, "Invalid input for field 'domain_id'"),
    ]
    for body, status, message in cases:
        response = await keystone.post(PROJECTS, json={"project": body}, headers=admin_headers)
        assert response.status_code == status, body
        assert message in response.json()["error"]["message"]


async def test_disabling_a_domain_ends_its_tokens(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    domain = await _create(keystone, admin_headers, DOMAINS, "domain", {"name": "corp"})
    project = await _create(
        keystone, admin_headers, PROJECTS, "project", {"name": "ops", "domain_id": domain["id"]}
    )
    user = await _create(
        keystone,
        admin_headers,
        "/identity/v3/users",
        "user",
        {"name": "eve", "domain_id": domain["id"], "password": "eve-pw"},
    )
    roles = await keystone.get("/identity/v3/roles?name=member", headers=admin_headers)
    grant = f"{PROJECTS}/{project['id']}/users/{user['id']}/roles/{roles.json()['roles'][0]['id']}"
    assert (await keystone.put(grant, headers=admin_headers)).status_code == 204
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "eve", "domain": {"name": "corp"}, "password": "eve-pw"}
                },
            },
            "scope": {"project": {"name": "ops", "domain": {"id": domain["id"]}}},
        }
    }
    issued = await keystone.post("/identity/v3/auth/tokens", json=body)
    assert issued.status_code == 201
    eve = {"X-Auth-Token": issued.headers["X-Subject-Token"]}
    assert (await keystone.get("/identity/v3/auth/projects", headers=eve)).status_code == 200
    url = f"{DOMAINS}/{domain['id']}"
    await keystone.patch(url, json={"domain": {"enabled": False}}, headers=admin_headers)
    assert (await keystone.get("/identity/v3/auth/projects", headers=eve)).status_code == 401
    assert (await keystone.post("/identity/v3/auth/tokens", json=body)).status_code == 401


async def test_oversized_body_is_413(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"project": {"name": "big", "description": "x" * 1_100_000}}
    response = await keystone.post(PROJECTS, json=body, headers=admin_headers)
    assert response.status_code == 413
