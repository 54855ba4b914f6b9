"""POST /v3/auth/tokens: the password and token methods, every scope, the body's exact shape."""

from __future__ import annotations

import datetime
import re
from typing import Any

import httpx

from tests.unit.identity.conftest import (
    ADMIN_PASSWORD,
    DEMO_PASSWORD,
    issue,
    login,
    password_auth,
)

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
DEFAULT = {"id": "default", "name": "Default"}


def by_id(user_id: str, password: str) -> dict[str, Any]:
    return {"methods": ["password"], "password": {"user": {"id": user_id, "password": password}}}


async def _ids(keystone: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    projects = (await keystone.get("/identity/v3/projects", headers=headers)).json()["projects"]
    users = (await keystone.get("/identity/v3/users", headers=headers)).json()["users"]
    ids = {f"project:{p['name']}": p["id"] for p in projects}
    ids.update({f"user:{u['name']}": u["id"] for u in users})
    return ids


async def test_project_token_has_keystone_shape(keystone: httpx.AsyncClient) -> None:
    response = await issue(keystone, password_auth())
    assert response.status_code == 201
    token = response.headers["X-Subject-Token"]
    assert len(token) >= 40
    body = response.json()["token"]
    assert set(body) == {
        "methods",
        "user",
        "audit_ids",
        "expires_at",
        "issued_at",
        "project",
        "is_domain",
        "roles",
        "catalog",
    }
    assert body["methods"] == ["password"]
    assert body["user"]["name"] == "admin"
    assert body["user"]["domain"] == DEFAULT
    assert body["user"]["password_expires_at"] is None
    assert body["project"]["name"] == "admin"
    assert body["project"]["domain"] == DEFAULT
    assert body["is_domain"] is False
    assert len(body["audit_ids"]) == 1 and len(body["audit_ids"][0]) == 22
    assert ISO_Z.match(body["expires_at"]) and ISO_Z.match(body["issued_at"])
    issued = datetime.datetime.fromisoformat(body["issued_at"].rstrip("Z"))
    expires = datetime.datetime.fromisoformat(body["expires_at"].rstrip("Z"))
    assert expires - issued == datetime.timedelta(seconds=3600)


async def test_admin_role_implies_member_and_reader(keystone: httpx.AsyncClient) -> None:
    body = (await issue(keystone, password_auth())).json()["token"]
    assert [r["name"] for r in body["roles"]] == ["admin", "member", "reader"]
    demo = (await issue(keystone, password_auth("demo", DEMO_PASSWORD, "demo"))).json()["token"]
    assert [r["name"] for r in demo["roles"]] == ["member", "reader"]


async def test_catalog_substitutes_the_project_id(keystone: httpx.AsyncClient) -> None:
    body = (await issue(keystone, password_auth())).json()["token"]
    project_id = body["project"]["id"]
    services = {s["type"]: s for s in body["catalog"]}
    assert set(services) == {"identity", "compute", "image", "network", "block-storage", "volumev3"}
    volume = services["block-storage"]
    assert {e["interface"] for e in volume["endpoints"]} == {"public", "internal", "admin"}
    for endpoint in volume["endpoints"]:
        assert endpoint["url"] == f"http://cumulo.test/volume/v3/{project_id}"
        assert endpoint["region"] == endpoint["region_id"] == "RegionOne"
        assert set(endpoint) == {"id", "interface", "region", "region_id", "url"}
    assert services["compute"]["name"] == "nova"
    assert services["compute"]["endpoints"][0]["url"] == "http://cumulo.test/compute/v2.1"
    assert services["network"]["endpoints"][0]["url"] == "http://cumulo.test/networking"


async def test_nocatalog_omits_the_catalog(keystone: httpx.AsyncClient) -> None:
    response = await keystone.post("/identity/v3/auth/tokens?nocatalog", json=password_auth())
    assert response.status_code == 201
    assert "catalog" not in response.json()["token"]


async def test_user_and_project_by_id(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _ids(keystone, admin_headers)
    body = {
        "auth": {
            "identity": by_id(ids["user:demo"], DEMO_PASSWORD),
            "scope": {"project": {"id": ids["project:demo"]}},
        }
    }
    response = await issue(keystone, body)
    assert response.status_code == 201
    assert response.json()["token"]["project"]["id"] == ids["project:demo"]


async def test_domain_given_by_id(keystone: httpx.AsyncClient) -> None:
    body = password_auth()
    body["auth"]["identity"]["password"]["user"]["domain"] = {"id": "default"}
    body["auth"]["scope"]["project"]["domain"] = {"id": "default"}
    assert (await issue(keystone, body)).status_code == 201


async def test_domain_scoped_token(keystone: httpx.AsyncClient) -> None:
    response = await issue(keystone, password_auth(scope={"domain": {"name": "Default"}}))
    assert response.status_code == 201
    body = response.json()["token"]
    assert body["domain"] == DEFAULT
    assert "project" not in body
    assert [r["name"] for r in body["roles"]] == ["admin", "member", "reader"]
    volume = next(s for s in body["catalog"] if s["type"] == "block-storage")
    assert volume["endpoints"] == []  # no project to put in the URL


async def test_system_scope_for_admin(keystone: httpx.AsyncClient) -> None:
    response = await issue(keystone, password_auth(scope={"system": {"all": True}}))
    assert response.status_code == 201
    body = response.json()["token"]
    assert body["system"] == {"all": True}
    assert "admin" in [r["name"] for r in body["roles"]]


async def test_system_scope_refused_to_non_admin(keystone: httpx.AsyncClient) -> None:
    response = await issue(
        keystone, password_auth("demo", DEMO_PASSWORD, scope={"system": {"all": True}})
    )
    assert response.status_code == 401


async def test_unscoped_token_has_no_roles_or_catalog(keystone: httpx.AsyncClient) -> None:
    scopes: list[Any] = [None, "unscoped", {"unscoped": {}}]
    for scope in scopes:
        body = password_auth(project=None, scope=scope)
        response = await issue(keystone, body)
        assert response.status_code == 201
        token = response.json()["token"]
        assert set(token) == {"methods", "user", "audit_ids", "expires_at", "issued_at"}


async def test_default_project_scopes_a_token_without_scope(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _ids(keystone, admin_headers)
    await keystone.patch(
        f"/identity/v3/users/{ids['user:demo']}",
        json={"user": {"default_project_id": ids["project:demo"]}},
        headers=admin_headers,
    )
    token = (await issue(keystone, password_auth("demo", DEMO_PASSWORD, None))).json()["token"]
    assert token["project"]["id"] == ids["project:demo"]
    explicit = password_auth("demo", DEMO_PASSWORD, scope="unscoped")
    assert "project" not in (await issue(keystone, explicit)).json()["token"]


async def test_default_project_without_a_role_gives_unscoped(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _ids(keystone, admin_headers)
    await keystone.patch(
        f"/identity/v3/users/{ids['user:demo']}",
        json={"user": {"default_project_id": ids["project:admin"]}},
        headers=admin_headers,
    )
    token = (await issue(keystone, password_auth("demo", DEMO_PASSWORD, None))).json()["token"]
    assert "project" not in token and "roles" not in token


async def test_rescope_with_token_method(keystone: httpx.AsyncClient) -> None:
    first = await issue(keystone, password_auth(project=None))
    unscoped = first.json()["token"]
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": first.headers["X-Subject-Token"]}},
            "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
        }
    }
    admin = {"X-Auth-Token": await login(keystone)}  # admin first gets reader on demo
    ids = await _ids(keystone, admin)
    roles = (await keystone.get("/identity/v3/roles?name=reader", headers=admin)).json()["roles"]
    grant = f"/identity/v3/projects/{ids['project:demo']}/users/{ids['user:admin']}/roles/"
    assert (await keystone.put(grant + roles[0]["id"], headers=admin)).status_code == 204
    response = await issue(keystone, body)
    assert response.status_code == 201
    token = response.json()["token"]
    assert token["project"]["name"] == "demo"
    assert [r["name"] for r in token["roles"]] == ["reader"]
    assert token["methods"] == ["token", "password"]
    assert token["expires_at"] == unscoped["expires_at"]
    assert token["audit_ids"][1] == unscoped["audit_ids"][0]
    assert response.headers["X-Subject-Token"] != first.headers["X-Subject-Token"]


async def test_token_method_with_a_bad_token_is_401(keystone: httpx.AsyncClient) -> None:
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": "not-a-token"}}}}
    response = await issue(keystone, body)
    assert response.status_code == 401


async def test_token_works_as_x_auth_token(keystone: httpx.AsyncClient) -> None:
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    response = await keystone.get("/identity/v3/auth/projects", headers={"X-Auth-Token": token})
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["projects"]] == ["demo"]


async def test_admin_password_is_what_bootstrap_set(keystone: httpx.AsyncClient) -> None:
    assert (await issue(keystone, password_auth(password=ADMIN_PASSWORD))).status_code == 201


async def test_token_and_password_of_different_users_is_401(keystone: httpx.AsyncClient) -> None:
    admin_token = await login(keystone)
    body = password_auth("demo", DEMO_PASSWORD, "demo")
    body["auth"]["identity"]["methods"] = ["password", "token"]
    body["auth"]["identity"]["token"] = {"id": admin_token}
    assert (await issue(keystone, body)).status_code == 401


async def test_domain_and_system_tokens_validate_from_the_database(
    keystone: httpx.AsyncClient, identity_runtime: Any
) -> None:
    for scope, check in (
        ({"domain": {"id": "default"}}, lambda c: c.domain_id == "default"),
        ({"system": {"all": True}}, lambda c: c.system_scope),
    ):
        token = (await issue(keystone, password_auth(scope=scope))).headers["X-Subject-Token"]
        identity_runtime.token_validator.forget_all()
        ctx = await identity_runtime.token_validator.validate(token, "r")
        assert check(ctx) and ctx.is_admin
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        body = (await keystone.get("/identity/v3/auth/tokens", headers=headers)).json()["token"]
        assert ("domain" in body) or ("system" in body)
