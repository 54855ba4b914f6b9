"""Every way POST /v3/auth/tokens fails, with Keystone's status and wording."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.unit.identity.conftest import DEMO_PASSWORD, issue, login, password_auth

UNAUTHORIZED = "The request you have made requires authentication."
COMPLY = (
    " The server could not comply with the request since it is either malformed or otherwise "
    "incorrect. The client is assumed to be in error."
)


def _identity(**user: Any) -> dict[str, Any]:
    return {"methods": ["password"], "password": {"user": user}}


BAD_REQUESTS = [
    ({}, "Expecting to find auth in request body." + COMPLY),
    ({"auth": None}, "Expecting to find auth in request body." + COMPLY),
    ({"auth": {}}, "'identity' is a required property"),
    ({"auth": "x"}, "'x' is not of type 'object'"),
    ({"auth": {"scope": "unscoped"}}, "'identity' is a required property"),
    (
        {"auth": {"identity": {}}},
        "Invalid input for field 'identity': 'methods' is a required property",
    ),
    (
        {"auth": {"identity": {"methods": "password"}}},
        "Invalid input for field 'identity/methods': 'password' is not of type 'array'",
    ),
    (
        {"auth": {"identity": _identity(name=5, domain={"id": "default"})}},
        "Invalid input for field 'identity/password/user/name': 5 is not of type 'string'",
    ),
    (
        {"auth": {"identity": {"methods": ["password"]}}},
        "Expecting to find password in identity." + COMPLY,
    ),
    (
        {"auth": {"identity": {"methods": ["password"], "password": {}}}},
        "Expecting to find user in password." + COMPLY,
    ),
    (
        {"auth": {"identity": _identity(password="x")}},
        "Invalid input for field identity/password/user: id or name must be present.",
    ),
    (
        {"auth": {"identity": _identity(name="admin", password="x")}},
        "Expecting to find domain in user." + COMPLY,
    ),
    (
        {"auth": {"identity": _identity(name="admin", domain={}, password="x")}},
        "Invalid input for field identity/password/user/domain: id or name must be present.",
    ),
    (
        {"auth": {"identity": {"methods": ["token"], "token": {}}}},
        "Invalid input for field 'identity/token': 'id' is a required property",
    ),
    (
        {
            "auth": {
                "identity": _identity(id="u", password="x"),
                "scope": {"project": {"name": "admin"}},
            }
        },
        "Expecting to find domain in project." + COMPLY,
    ),
    (
        {"auth": {"identity": _identity(id="u", password="x"), "scope": {"project": {}}}},
        "Invalid input for field scope/project: id or name must be present.",
    ),
    (
        {"auth": {"identity": _identity(id="u", password="x"), "scope": {"domain": {}}}},
        "Invalid input for field scope/domain: id or name must be present.",
    ),
    (
        {
            "auth": {
                "identity": _identity(id="u", password="x"),
                "scope": {"project": {"id": "p"}, "domain": {"id": "d"}},
            }
        },
        "Expecting to find system, project, domain, OS-TRUST:trust or unscoped in scope." + COMPLY,
    ),
    (
        {"auth": {"identity": _identity(id="u", password="x"), "scope": "everything"}},
        "Expecting to find system, project, domain, OS-TRUST:trust or unscoped in scope." + COMPLY,
    ),
    (
        {
            "auth": {
                "identity": _identity(id="u", password="x"),
                "scope": {"system": {"all": "yes"}},
            }
        },
        "Invalid input for field 'scope/system/all': 'yes' is not of type 'boolean'",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_REQUESTS)
async def test_malformed_auth_is_400(
    keystone: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await issue(keystone, body)
    assert response.status_code == 400, response.text
    assert response.json() == {"error": {"code": 400, "message": message, "title": "Bad Request"}}


async def test_body_that_is_not_json(keystone: httpx.AsyncClient) -> None:
    response = await keystone.post(
        "/identity/v3/auth/tokens", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert (
        response.json()["error"]["message"]
        == "Expecting to find valid JSON in request body." + COMPLY
    )
    response = await keystone.post(
        "/identity/v3/auth/tokens", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert response.json()["error"]["message"].startswith("Expecting to find valid JSON object")
    response = await keystone.post(
        "/identity/v3/auth/tokens", content=b"a=b", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert "application/json in Content-Type header" in response.json()["error"]["message"]


async def test_unsupported_method_is_401(keystone: httpx.AsyncClient) -> None:
    body = {"auth": {"identity": {"methods": ["totp"], "totp": {}}}}
    response = await issue(keystone, body)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == (
        "Attempted to authenticate with an unsupported method."
    )


async def _disable(keystone: httpx.AsyncClient, kind: str, name: str) -> None:
    admin = {"X-Auth-Token": await login(keystone)}
    found = (await keystone.get(f"/identity/v3/{kind}?name={name}", headers=admin)).json()[kind]
    key = kind[:-1]
    response = await keystone.patch(
        f"/identity/v3/{kind}/{found[0]['id']}", json={key: {"enabled": False}}, headers=admin
    )
    assert response.status_code == 200


UNAUTHORIZED_CASES = [
    ("wrong password", password_auth(password="wrong")),
    ("empty password", password_auth(password="")),
    ("unknown user", password_auth(user="nobody")),
    (
        "unknown user domain",
        {"auth": {"identity": _identity(name="admin", domain={"name": "Elsewhere"}, password="x")}},
    ),
    ("unknown user id", {"auth": {"identity": _identity(id="0" * 32, password="x")}}),
    ("unknown project", password_auth(project="nowhere")),
    ("no role on project", password_auth("demo", DEMO_PASSWORD, "admin")),
    (
        "no role on domain",
        password_auth("demo", DEMO_PASSWORD, scope={"domain": {"id": "default"}}),
    ),
    ("unknown domain scope", password_auth(scope={"domain": {"name": "Nowhere"}})),
]


@pytest.mark.parametrize(
    ("case", "body"), UNAUTHORIZED_CASES, ids=[c for c, _ in UNAUTHORIZED_CASES]
)
async def test_failed_authentication_is_401(
    keystone: httpx.AsyncClient, case: str, body: dict[str, Any]
) -> None:
    response = await issue(keystone, body)
    assert response.status_code == 401, case
    assert response.json() == {
        "error": {"code": 401, "message": UNAUTHORIZED, "title": "Unauthorized"}
    }
    assert response.headers["WWW-Authenticate"] == 'Keystone uri="/identity/v3"'
    assert "X-Subject-Token" not in response.headers


async def test_disabled_user_cannot_authenticate(keystone: httpx.AsyncClient) -> None:
    await _disable(keystone, "users", "demo")
    response = await issue(keystone, password_auth("demo", DEMO_PASSWORD, "demo"))
    assert response.status_code == 401


async def test_disabled_project_cannot_be_scoped(keystone: httpx.AsyncClient) -> None:
    await _disable(keystone, "projects", "demo")
    response = await issue(keystone, password_auth("demo", DEMO_PASSWORD, "demo"))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == UNAUTHORIZED


async def test_trust_scope_is_refused(keystone: httpx.AsyncClient) -> None:
    body = password_auth(scope={"OS-TRUST:trust": {"id": "t"}})
    response = await issue(keystone, body)
    assert response.status_code == 403
