"""/v3/users: CRUD, passwords never shown, a user's projects, the password change."""

from __future__ import annotations

from typing import Any

import httpx

from tests.unit.identity.conftest import DEMO_PASSWORD, issue, login, password_auth

USERS = "/identity/v3/users"


async def _user_id(keystone: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    found = (await keystone.get(f"{USERS}?name={name}", headers=headers)).json()["users"]
    user_id: str = found[0]["id"]
    return user_id


async def _create(
    keystone: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await keystone.post(USERS, json={"user": body}, headers=headers)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


async def test_user_crud(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = await _create(
        keystone, admin_headers, name="alice", password="pw1", email="alice@example.com"
    )
    assert created == {
        "id": created["id"],
        "name": "alice",
        "domain_id": "default",
        "enabled": True,
        "email": "alice@example.com",
        "password_expires_at": None,
        "options": {},
        "links": {"self": f"http://cumulo.test/identity/v3/users/{created['id']}"},
    }
    url = f"{USERS}/{created['id']}"
    shown = (await keystone.get(url, headers=admin_headers)).json()["user"]
    assert shown == created
    patched = await keystone.patch(
        url, json={"user": {"description": "ops"}}, headers=admin_headers
    )
    assert patched.json()["user"]["description"] == "ops"
    assert (await keystone.delete(url, headers=admin_headers)).status_code == 204
    missing = await keystone.get(url, headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Could not find user: {created['id']}."


async def test_passwords_are_never_returned(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _create(keystone, admin_headers, name="bob", password="secret-pw")
    listing = await keystone.get(USERS, headers=admin_headers)
    assert "secret-pw" not in listing.text
    assert "password_hash" not in listing.text and "argon2" not in listing.text


async def test_new_user_can_log_in_once_granted(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    user = await _create(keystone, admin_headers, name="carol", password="carol-pw")
    unscoped = await issue(keystone, password_auth("carol", "carol-pw", None))
    assert unscoped.status_code == 201
    assert (await issue(keystone, password_auth("carol", "carol-pw", "demo"))).status_code == 401
    roles = (await keystone.get("/identity/v3/roles?name=member", headers=admin_headers)).json()
    demo = (await keystone.get("/identity/v3/projects?name=demo", headers=admin_headers)).json()
    grant = (
        f"/identity/v3/projects/{demo['projects'][0]['id']}/users/{user['id']}"
        f"/roles/{roles['roles'][0]['id']}"
    )
    assert (await keystone.put(grant, headers=admin_headers)).status_code == 204
    assert (await issue(keystone, password_auth("carol", "carol-pw", "demo"))).status_code == 201
    listed = await keystone.get(f"{USERS}/{user['id']}/projects", headers=admin_headers)
    assert [p["name"] for p in listed.json()["projects"]] == ["demo"]


async def test_user_filters(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await _create(keystone, admin_headers, name="off", enabled=False)
    names = lambda r: sorted(u["name"] for u in r.json()["users"])  # noqa: E731
    assert names(await keystone.get(USERS, headers=admin_headers)) == ["admin", "demo", "off"]
    assert names(await keystone.get(USERS + "?enabled=false", headers=admin_headers)) == ["off"]
    assert names(
        await keystone.get(USERS + "?domain_id=default&name=demo", headers=admin_headers)
    ) == ["demo"]


async def test_duplicate_user_is_409(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await keystone.post(USERS, json={"user": {"name": "demo"}}, headers=admin_headers)
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "Conflict occurred attempting to store user - Duplicate entry found with name demo "
        "at domain ID default."
    )


async def test_bad_user_bodies(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    missing = await keystone.post(USERS, json={"user": {"password": "x"}}, headers=admin_headers)
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == (
        "Invalid input for field 'user': 'name' is a required property"
    )
    user_id = await _user_id(keystone, admin_headers, "demo")
    moved = await keystone.patch(
        f"{USERS}/{user_id}", json={"user": {"domain_id": "x"}}, headers=admin_headers
    )
    assert moved.status_code == 400
    assert moved.json()["error"]["message"] == "Cannot change Domain ID"
    unknown = await keystone.patch(
        f"{USERS}/nobody", json={"user": {"name": "x"}}, headers=admin_headers
    )
    assert unknown.status_code == 404


async def test_admin_reset_password_ends_old_tokens(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    user_id = await _user_id(keystone, admin_headers, "demo")
    await keystone.patch(
        f"{USERS}/{user_id}", json={"user": {"password": "new-pw"}}, headers=admin_headers
    )
    own = await keystone.get("/identity/v3/auth/projects", headers={"X-Auth-Token": token})
    assert own.status_code == 401
    assert (await issue(keystone, password_auth("demo", DEMO_PASSWORD, "demo"))).status_code == 401
    assert (await issue(keystone, password_auth("demo", "new-pw", "demo"))).status_code == 201


async def test_self_service_password_change(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    user_id = await _user_id(keystone, admin_headers, "demo")
    url = f"{USERS}/{user_id}/password"
    wrong = await keystone.post(url, json={"user": {"password": "n", "original_password": "bad"}})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "The request you have made requires authentication."
    body = {"user": {"password": "changed", "original_password": DEMO_PASSWORD}}
    assert (await keystone.post(url, json=body)).status_code == 204
    assert (await issue(keystone, password_auth("demo", "changed", "demo"))).status_code == 201
    incomplete = await keystone.post(url, json={"user": {"password": "x"}})
    assert incomplete.status_code == 400
    unknown = await keystone.post(f"{USERS}/nobody/password", json=body)
    assert unknown.status_code == 401


async def test_user_may_read_itself_but_not_others(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], demo_headers: dict[str, str]
) -> None:
    demo_id = await _user_id(keystone, admin_headers, "demo")
    admin_id = await _user_id(keystone, admin_headers, "admin")
    assert (await keystone.get(f"{USERS}/{demo_id}", headers=demo_headers)).status_code == 200
    assert (
        await keystone.get(f"{USERS}/{demo_id}/projects", headers=demo_headers)
    ).status_code == 200
    other = await keystone.get(f"{USERS}/{admin_id}", headers=demo_headers)
    assert other.status_code == 403
    assert other.json()["error"]["message"].endswith("identity:get_user.")
    created = await keystone.post(USERS, json={"user": {"name": "x"}}, headers=demo_headers)
    assert created.status_code == 403
    assert created.json()["error"]["message"].endswith("identity:create_user.")
