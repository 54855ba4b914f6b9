"""Validating, checking and revoking tokens; tokens across restarts; expiry; the cache."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from cumulo.config import Settings
from cumulo.db.models.identity import Token
from cumulo.exception import NotAuthenticated
from cumulo.identity import auth
from cumulo.identity.bootstrap import bootstrap_identity
from cumulo.identity.tokens import DatabaseTokenValidator, ValidatedToken, hash_token
from cumulo.runtime import Runtime
from tests.unit.identity.conftest import (
    ADMIN_PASSWORD,
    DEMO_PASSWORD,
    PUBLIC_URL,
    client_for,
    issue,
    login,
    make_runtime,
    make_settings,
    password_auth,
)

TOKENS = "/identity/v3/auth/tokens"


def subject(auth: str, token: str) -> dict[str, str]:
    return {"X-Auth-Token": auth, "X-Subject-Token": token}


async def test_validate_returns_the_token_body(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    issued = await issue(keystone, password_auth("demo", DEMO_PASSWORD, "demo"))
    token = issued.headers["X-Subject-Token"]
    response = await keystone.get(TOKENS, headers=subject(admin_headers["X-Auth-Token"], token))
    assert response.status_code == 200
    assert response.headers["X-Subject-Token"] == token
    assert response.json() == issued.json()
    nocatalog = await keystone.get(
        TOKENS + "?nocatalog", headers=subject(admin_headers["X-Auth-Token"], token)
    )
    assert "catalog" not in nocatalog.json()["token"]


async def test_a_user_may_validate_its_own_token(keystone: httpx.AsyncClient) -> None:
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    response = await keystone.get(TOKENS, headers=subject(token, token))
    assert response.status_code == 200


async def test_a_user_may_not_validate_another_users_token(keystone: httpx.AsyncClient) -> None:
    demo = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    admin = await login(keystone)
    response = await keystone.get(TOKENS, headers=subject(demo, admin))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "You are not authorized to perform the requested action: identity:validate_token."
    )


async def test_bad_subject_token_is_404(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await keystone.get(TOKENS, headers=subject(admin_headers["X-Auth-Token"], "bogus"))
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": 404, "message": "Could not find token: bogus.", "title": "Not Found"}
    }
    assert (await keystone.get(TOKENS, headers=admin_headers)).status_code == 404


async def test_validate_needs_a_valid_auth_token(keystone: httpx.AsyncClient) -> None:
    token = await login(keystone)
    assert (await keystone.get(TOKENS, headers={"X-Subject-Token": token})).status_code == 401
    assert (await keystone.get(TOKENS, headers=subject("bogus", token))).status_code == 401


async def test_head_checks_a_token(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    auth = admin_headers["X-Auth-Token"]
    assert (await keystone.head(TOKENS, headers=subject(auth, token))).status_code == 200
    assert (await keystone.head(TOKENS, headers=subject(auth, "bogus"))).status_code == 404


async def test_revoked_token_fails_everywhere(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    own = {"X-Auth-Token": token}
    assert (await keystone.get("/identity/v3/auth/projects", headers=own)).status_code == 200
    auth = admin_headers["X-Auth-Token"]
    assert (await keystone.delete(TOKENS, headers=subject(auth, token))).status_code == 204
    assert (await keystone.get("/identity/v3/auth/projects", headers=own)).status_code == 401
    assert (await keystone.get(TOKENS, headers=subject(auth, token))).status_code == 404
    assert (await keystone.delete(TOKENS, headers=subject(auth, token))).status_code == 404


async def test_revoke_reaches_the_shared_validator(
    keystone: httpx.AsyncClient, identity_runtime: Runtime
) -> None:
    """Other services validate through the runtime's validator: a revoke here is seen there."""
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    validator = identity_runtime.token_validator
    assert validator is not None
    ctx = await validator.validate(token, "req-1")
    assert ctx.project_name == "demo" and ctx.roles == ("member", "reader")
    assert ctx.request_id == "req-1"
    await keystone.delete(TOKENS, headers=subject(token, token))
    with pytest.raises(NotAuthenticated):
        await validator.validate(token, "req-2")


async def test_token_survives_a_restart(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    first = make_runtime(settings)
    await bootstrap_identity(first.db, settings, PUBLIC_URL, ADMIN_PASSWORD, DEMO_PASSWORD)
    async with client_for(first) as client:
        token = await login(client)
    await first.close()
    second = make_runtime(settings)
    try:
        assert second.token_validator is not None
        ctx = await second.token_validator.validate(token, "req-x")
        assert ctx.user_name == "admin" and ctx.is_admin
        async with client_for(second) as client:
            response = await client.get(TOKENS, headers=subject(token, token))
            assert response.status_code == 200
    finally:
        await second.close()


async def test_token_expires(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url, token_expiration=1, token_cache_seconds=30)
    rt = make_runtime(settings)
    await bootstrap_identity(rt.db, settings, PUBLIC_URL, ADMIN_PASSWORD, DEMO_PASSWORD)
    try:
        async with client_for(rt) as client:
            token = await login(client)
            headers = {"X-Auth-Token": token}
            assert (
                await client.get("/identity/v3/auth/projects", headers=headers)
            ).status_code == 200
            await asyncio.sleep(1.1)
            # cached for at most the token's own lifetime, whatever the cache setting
            assert (
                await client.get("/identity/v3/auth/projects", headers=headers)
            ).status_code == 401
            fresh = await login(client)
            assert (await client.get(TOKENS, headers=subject(fresh, token))).status_code == 404
    finally:
        await rt.close()


async def test_expired_tokens_are_cleaned_up(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "CLEANUP_INTERVAL", 0.0)
    settings = make_settings(tmp_path, sqlite_url, token_expiration=1)
    rt = make_runtime(settings)
    await bootstrap_identity(rt.db, settings, PUBLIC_URL, ADMIN_PASSWORD, DEMO_PASSWORD)
    try:
        async with client_for(rt) as client:
            await login(client)
            await asyncio.sleep(1.1)
            await login(client)
        async with rt.db.read() as session:
            assert await session.scalar(select(func.count()).select_from(Token)) == 1
    finally:
        await rt.close()


async def test_tokens_are_stored_only_as_hashes(
    keystone: httpx.AsyncClient, identity_runtime: Runtime
) -> None:
    token = await login(keystone)
    async with identity_runtime.db.read() as session:
        ids = list(await session.scalars(select(Token.id)))
    assert ids == [hash_token(token)]
    assert token not in ids


async def test_cache_serves_until_told_otherwise(
    identity_settings: Settings, keystone: httpx.AsyncClient, identity_runtime: Runtime
) -> None:
    """A second validator (another process) trusts its cache until the entry ages out."""
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    other = DatabaseTokenValidator(identity_runtime.db, identity_settings.identity)
    await other.validate(token, "r")
    await keystone.delete(TOKENS, headers=subject(token, token))
    assert (await other.validate(token, "r")).user_name == "demo"  # still cached there
    other.forget(hash_token(token))
    with pytest.raises(NotAuthenticated):
        await other.validate(token, "r")


async def test_concurrent_misses_share_one_read(
    identity_settings: Settings, keystone: httpx.AsyncClient, identity_runtime: Runtime
) -> None:
    token = await login(keystone)
    other = DatabaseTokenValidator(identity_runtime.db, identity_settings.identity)
    reads = 0
    original = other._fetch

    async def counting(token_hash: str) -> ValidatedToken | None:
        nonlocal reads
        reads += 1
        return await original(token_hash)

    other._fetch = counting  # type: ignore[method-assign]
    contexts = await asyncio.gather(*(other.validate(token, f"r{i}") for i in range(20)))
    assert reads == 1
    assert {c.request_id for c in contexts} == {f"r{i}" for i in range(20)}


async def test_disabling_a_user_ends_its_tokens(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    users = (await keystone.get("/identity/v3/users?name=demo", headers=admin_headers)).json()
    await keystone.patch(
        f"/identity/v3/users/{users['users'][0]['id']}",
        json={"user": {"enabled": False}},
        headers=admin_headers,
    )
    response = await keystone.get("/identity/v3/auth/projects", headers={"X-Auth-Token": token})
    assert response.status_code == 401


async def test_losing_the_role_ends_a_scoped_token(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    token = await login(keystone, "demo", DEMO_PASSWORD, "demo")
    users = (await keystone.get("/identity/v3/users?name=demo", headers=admin_headers)).json()
    demo_id = users["users"][0]["id"]
    listing = await keystone.get(
        f"/identity/v3/role_assignments?user.id={demo_id}", headers=admin_headers
    )
    for assignment in listing.json()["role_assignments"]:
        deleted = await keystone.delete(assignment["links"]["assignment"], headers=admin_headers)
        assert deleted.status_code == 204
    response = await keystone.get("/identity/v3/auth/projects", headers={"X-Auth-Token": token})
    assert response.status_code == 401


async def test_cache_is_bounded() -> None:
    from cumulo.identity.tokens import TokenCache

    cache = TokenCache(seconds=60, max_entries=3)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    for i in range(5):
        cache.put(
            ValidatedToken(
                token_hash=f"h{i}",
                user_id="u",
                user_name="u",
                user_domain_id="d",
                user_domain_name="D",
                methods=("password",),
                audit_ids=("a",),
                issued_at=now,
                expires_at=now + datetime.timedelta(hours=1),
            )
        )
    assert [cache.get(f"h{i}") is not None for i in range(5)] == [False, False, True, True, True]
    expired = ValidatedToken(
        token_hash="old",
        user_id="u",
        user_name="u",
        user_domain_id="d",
        user_domain_name="D",
        methods=(),
        audit_ids=("a",),
        issued_at=now,
        expires_at=now,
    )
    cache.put(expired)
    assert cache.get("old") is None
