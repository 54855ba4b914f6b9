"""/v3/roles, grants on projects and domains, and /v3/role_assignments."""

from __future__ import annotations

import httpx
import pytest

BASE = "http://cumulo.test/identity/v3"


class Cloud:
    """Ids of the bootstrap entities, looked up once per test."""

    def __init__(self, ids: dict[str, str]) -> None:
        self.ids = ids

    def __getitem__(self, key: str) -> str:
        return self.ids[key]


@pytest.fixture
async def cloud(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> Cloud:
    ids: dict[str, str] = {}
    for kind in ("users", "projects", "roles"):
        listing = (await keystone.get(f"/identity/v3/{kind}", headers=admin_headers)).json()
        ids.update({f"{kind[:-1]}:{e['name']}": e["id"] for e in listing[kind]})
    return Cloud(ids)


async def test_role_crud(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await keystone.post(
        "/identity/v3/roles", json={"role": {"name": "auditor"}}, headers=admin_headers
    )
    assert response.status_code == 201
    role = response.json()["role"]
    assert role == {
        "id": role["id"],
        "name": "auditor",
        "domain_id": None,
        "description": None,
        "options": {},
        "links": {"self": f"{BASE}/roles/{role['id']}"},
    }
    url = f"/identity/v3/roles/{role['id']}"
    patched = await keystone.patch(
        url, json={"role": {"description": "reads logs"}}, headers=admin_headers
    )
    assert patched.json()["role"]["description"] == "reads logs"
    assert (await keystone.get(url, headers=admin_headers)).json()["role"]["name"] == "auditor"
    assert (await keystone.delete(url, headers=admin_headers)).status_code == 204
    missing = await keystone.get(url, headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Could not find role: {role['id']}."


async def test_role_list_and_duplicate(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    listing = (await keystone.get("/identity/v3/roles", headers=admin_headers)).json()
    assert [r["name"] for r in listing["roles"]] == ["admin", "member", "reader"]
    by_name = (await keystone.get("/identity/v3/roles?name=member", headers=admin_headers)).json()
    assert [r["name"] for r in by_name["roles"]] == ["member"]
    dup = await keystone.post(
        "/identity/v3/roles", json={"role": {"name": "admin"}}, headers=admin_headers
    )
    assert dup.status_code == 409
    assert dup.json()["error"]["message"] == (
        "Conflict occurred attempting to store role - Duplicate entry found with name admin."
    )


async def test_grant_check_list_revoke_on_project(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], cloud: Cloud
) -> None:
    grants = f"/identity/v3/projects/{cloud['project:demo']}/users/{cloud['user:admin']}/roles"
    grant = f"{grants}/{cloud['role:reader']}"
    missing = await keystone.head(grant, headers=admin_headers)
    assert missing.status_code == 404
    assert (await keystone.put(grant, headers=admin_headers)).status_code == 204
    assert (await keystone.put(grant, headers=admin_headers)).status_code == 204  # idempotent
    assert (await keystone.head(grant, headers=admin_headers)).status_code == 204
    assert (await keystone.get(grant, headers=admin_headers)).status_code == 204
    listed = (await keystone.get(grants, headers=admin_headers)).json()
    assert [r["name"] for r in listed["roles"]] == ["reader"]
    assert listed["roles"][0]["links"]["self"] == f"{BASE}/roles/{cloud['role:reader']}"
    assert (await keystone.delete(grant, headers=admin_headers)).status_code == 204
    again = await keystone.delete(grant, headers=admin_headers)
    assert again.status_code == 404
    assert again.json()["error"]["message"] == (
        f"Could not find role assignment with role: {cloud['role:reader']}, user or group: "
        f"{cloud['user:admin']}, project, domain, or system: {cloud['project:demo']}."
    )


async def test_grant_on_domain(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], cloud: Cloud
) -> None:
    grant = f"/identity/v3/domains/default/users/{cloud['user:demo']}/roles/{cloud['role:reader']}"
    assert (await keystone.put(grant, headers=admin_headers)).status_code == 204
    assert (await keystone.head(grant, headers=admin_headers)).status_code == 204
    listed = await keystone.get(
        f"/identity/v3/domains/default/users/{cloud['user:demo']}/roles", headers=admin_headers
    )
    assert [r["name"] for r in listed.json()["roles"]] == ["reader"]
    assert (await keystone.delete(grant, headers=admin_headers)).status_code == 204


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ("project", "Could not find project: nope."),
        ("user", "Could not find user: nope."),
        ("role", "Could not find role: nope."),
    ],
)
async def test_grant_with_unknown_part_is_404(
    keystone: httpx.AsyncClient,
    admin_headers: dict[str, str],
    cloud: Cloud,
    part: str,
    message: str,
) -> None:
    ids = {
        "project": cloud["project:demo"],
        "user": cloud["user:demo"],
        "role": cloud["role:reader"],
    }
    ids[part] = "nope"
    url = f"/identity/v3/projects/{ids['project']}/users/{ids['user']}/roles/{ids['role']}"
    response = await keystone.put(url, headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == message


async def test_grants_need_admin(
    keystone: httpx.AsyncClient, demo_headers: dict[str, str], cloud: Cloud
) -> None:
    url = (
        f"/identity/v3/projects/{cloud['project:demo']}/users/{cloud['user:demo']}"
        f"/roles/{cloud['role:admin']}"
    )
    response = await keystone.put(url, headers=demo_headers)
    assert response.status_code == 403
    assert response.json()["error"]["message"].endswith("identity:create_grant.")
    listing = await keystone.get("/identity/v3/role_assignments", headers=demo_headers)
    assert listing.status_code == 403


async def test_role_assignments_listing(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], cloud: Cloud
) -> None:
    url = f"/identity/v3/role_assignments?user.id={cloud['user:demo']}"
    body = (await keystone.get(url, headers=admin_headers)).json()
    assert body["role_assignments"] == [
        {
            "scope": {"project": {"id": cloud["project:demo"]}},
            "user": {"id": cloud["user:demo"]},
            "role": {"id": cloud["role:member"]},
            "links": {
                "assignment": f"{BASE}/projects/{cloud['project:demo']}/users/"
                f"{cloud['user:demo']}/roles/{cloud['role:member']}"
            },
        }
    ]
    assert body["links"]["self"] == f"{BASE}/role_assignments?user.id={cloud['user:demo']}"
    everything = (await keystone.get("/identity/v3/role_assignments", headers=admin_headers)).json()
    scopes = sorted(next(iter(a["scope"])) for a in everything["role_assignments"])
    assert scopes == ["domain", "project", "project"]


async def test_role_assignments_filters(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], cloud: Cloud
) -> None:
    async def count(query: str) -> int:
        r = await keystone.get(f"/identity/v3/role_assignments?{query}", headers=admin_headers)
        assert r.status_code == 200, r.text
        return len(r.json()["role_assignments"])

    assert await count(f"scope.project.id={cloud['project:admin']}") == 1
    assert await count("scope.domain.id=default") == 1
    assert await count(f"role.id={cloud['role:admin']}") == 2
    assert await count(f"role.id={cloud['role:reader']}") == 0
    assert await count(f"role.id={cloud['role:reader']}&effective") == 3
    assert await count(f"scope.project.id={cloud['project:admin']}&effective=true") == 3
    assert await count(f"scope.project.id={cloud['project:admin']}&effective=0") == 1
    assert await count("group.id=g") == 0


async def test_effective_and_include_names(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], cloud: Cloud
) -> None:
    url = f"/identity/v3/role_assignments?user.id={cloud['user:demo']}&effective&include_names=true"
    entries = (await keystone.get(url, headers=admin_headers)).json()["role_assignments"]
    assert [e["role"]["name"] for e in entries] == ["member", "reader"]
    default = {"id": "default", "name": "Default"}
    assert entries[0]["user"] == {"id": cloud["user:demo"], "name": "demo", "domain": default}
    assert entries[0]["scope"] == {
        "project": {"id": cloud["project:demo"], "name": "demo", "domain": default}
    }
    implied = entries[1]
    assert implied["links"]["assignment"].endswith(f"/roles/{cloud['role:member']}")
    assert implied["links"]["prior_role"] == (
        f"{BASE}/prior_role/{cloud['role:reader']}/implies/{cloud['role:member']}"
    )
    domain_scope = await keystone.get(
        "/identity/v3/role_assignments?scope.domain.id=default&include_names", headers=admin_headers
    )
    assert domain_scope.json()["role_assignments"][0]["scope"] == {"domain": default}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("scope.project.id=a&scope.domain.id=b", "Specify a domain or project, not both"),
        ("user.id=a&group.id=b", "Specify a user or group, not both"),
        (
            "effective&group.id=b",
            "Combining effective and group filter will always result in an empty list.",
        ),
        ("scope.system=all&scope.project.id=a", "Specify system or project, not both"),
    ],
)
async def test_contradictory_filters_are_400(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], query: str, message: str
) -> None:
    response = await keystone.get(f"/identity/v3/role_assignments?{query}", headers=admin_headers)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message


async def test_deleting_a_role_removes_its_grants(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], cloud: Cloud
) -> None:
    created = await keystone.post(
        "/identity/v3/roles", json={"role": {"name": "temp"}}, headers=admin_headers
    )
    role_id = created.json()["role"]["id"]
    grant = (
        f"/identity/v3/projects/{cloud['project:demo']}/users/{cloud['user:demo']}/roles/{role_id}"
    )
    await keystone.put(grant, headers=admin_headers)
    await keystone.delete(f"/identity/v3/roles/{role_id}", headers=admin_headers)
    listed = await keystone.get(
        f"/identity/v3/role_assignments?role.id={role_id}", headers=admin_headers
    )
    assert listed.json()["role_assignments"] == []


async def test_role_refusals(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str], cloud: Cloud
) -> None:
    scoped = await keystone.post(
        "/identity/v3/roles",
        json={"role": {"name": "x", "domain_id": "default"}},
        headers=admin_headers,
    )
    assert scoped.status_code == 400
    url = f"/identity/v3/roles/{cloud['role:reader']}"
    renamed = await keystone.patch(url, json={"role": {"id": "other"}}, headers=admin_headers)
    assert renamed.status_code == 400
    assert renamed.json()["error"]["message"] == "Cannot change ID"
    clash = await keystone.patch(url, json={"role": {"name": "admin"}}, headers=admin_headers)
    assert clash.status_code == 409
    empty = await keystone.patch(url, json={"role": {}}, headers=admin_headers)
    assert empty.status_code == 400
