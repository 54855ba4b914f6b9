"""``/os-server-groups``: shapes per microversion, Nova's schema errors, visibility, quota."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cumulo.compute import quota
from cumulo.compute.errors import InstanceGroupNotFound
from cumulo.compute.server_groups import db as groups_db
from cumulo.db.base import utcnow
from cumulo.db.models.compute import Quota
from cumulo.db.models.instances import ServerGroup, ServerGroupMember
from cumulo.runtime import Runtime
from tests import fakes
from tests.compute_rows import instance
from tests.databases import ENGINES, api_client, runtime_on
from tests.fakes import ADMIN_PROJECT, ADMIN_USER, DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import ADMIN, DEMO, at, fault

GROUPS = "/compute/v2.1/os-server-groups"


async def create(
    api: httpx.AsyncClient, version: str, group: Any, token: dict[str, str] = DEMO
) -> httpx.Response:
    return await api.post(GROUPS, json={"server_group": group}, headers=at(version, token))


async def made(api: httpx.AsyncClient, name: str = "g", token: dict[str, str] = DEMO) -> str:
    r = await create(api, "2.64", {"name": name, "policy": "anti-affinity"}, token)
    assert r.status_code == 200, r.text
    return str(r.json()["server_group"]["id"])


async def test_create_show_list_delete_at_latest(api: httpx.AsyncClient) -> None:
    group = {"name": "web", "policy": "anti-affinity", "rules": {"max_server_per_host": "3"}}
    r = await create(api, "2.100", group)
    assert r.status_code == 200
    body = r.json()["server_group"]
    assert body == {
        "id": body["id"],
        "name": "web",
        "policy": "anti-affinity",
        "rules": {"max_server_per_host": 3},
        "members": [],
        "project_id": DEMO_PROJECT,
        "user_id": DEMO_USER,
    }
    uuid.UUID(body["id"])
    shown = await api.get(f"{GROUPS}/{body['id']}", headers=at("2.100", DEMO))
    assert shown.json() == {"server_group": body}
    listed = await api.get(GROUPS, headers=at("2.100", DEMO))
    assert listed.json() == {"server_groups": [body]}
    gone = await api.delete(f"{GROUPS}/{body['id']}", headers=DEMO)
    assert gone.status_code == 204 and gone.content == b""
    missing = await api.get(f"{GROUPS}/{body['id']}", headers=DEMO)
    assert missing.status_code == 404
    assert fault(missing)["message"] == f"Instance group {body['id']} could not be found."
    again = await api.delete(f"{GROUPS}/{body['id']}", headers=DEMO)
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("version", "keys"),
    [
        ("2.1", {"id", "name", "policies", "members", "metadata"}),
        ("2.13", {"id", "name", "policies", "members", "metadata", "project_id", "user_id"}),
        ("2.63", {"id", "name", "policies", "members", "metadata", "project_id", "user_id"}),
        ("2.64", {"id", "name", "policy", "rules", "members", "project_id", "user_id"}),
    ],
)
async def test_body_keys_per_microversion(
    api: httpx.AsyncClient, version: str, keys: set[str]
) -> None:
    group_id = await made(api)
    body = (await api.get(f"{GROUPS}/{group_id}", headers=at(version, DEMO))).json()
    assert set(body["server_group"]) == keys


async def test_policies_list_before_264(api: httpx.AsyncClient) -> None:
    r = await create(api, "2.1", {"name": "old", "policies": ["affinity"]})
    assert r.status_code == 200
    body = r.json()["server_group"]
    assert body["policies"] == ["affinity"] and body["metadata"] == {}
    latest = await api.get(f"{GROUPS}/{body['id']}", headers=at("2.64", DEMO))
    assert latest.json()["server_group"]["policy"] == "affinity"
    assert latest.json()["server_group"]["rules"] == {}


async def test_soft_policies_from_215(api: httpx.AsyncClient) -> None:
    r = await create(api, "2.14", {"name": "s", "policies": ["soft-affinity"]})
    assert r.status_code == 400
    assert fault(r)["message"] == (
        "Invalid input for field/attribute 0. Value: soft-affinity. "
        "'soft-affinity' is not one of ['anti-affinity', 'affinity']"
    )
    r = await create(api, "2.15", {"name": "s", "policies": ["soft-affinity"]})
    assert r.status_code == 200
    assert r.json()["server_group"]["policies"] == ["soft-affinity"]
    r = await create(api, "2.64", {"name": "s", "policy": "soft-anti-affinity"})
    assert r.json()["server_group"]["policy"] == "soft-anti-affinity"


@pytest.mark.parametrize(
    ("version", "group", "message"),
    [
        (
            "2.1",
            {"name": "g", "policies": ["affinity", "affinity"]},
            "Invalid input for field/attribute policies. Value: ['affinity', 'affinity']. "
            "['affinity', 'affinity'] has non-unique elements",
        ),
        (
            "2.1",
            {"name": "g", "policies": ["affinity", "anti-affinity"]},
            "Invalid input for field/attribute policies. Value: ['affinity', 'anti-affinity']. "
            "['affinity', 'anti-affinity'] is too long",
        ),
        (
            "2.1",
            {"name": "g", "policies": []},
            "Invalid input for field/attribute policies. Value: []. [] should be non-empty",
        ),
        (
            "2.1",
            {"name": "g", "policies": "affinity"},
            "Invalid input for field/attribute policies. Value: affinity. "
            "'affinity' is not of type 'array'",
        ),
        (
            "2.1",
            {"name": "g"},
            "Invalid input for field/attribute server_group. Value: {'name': 'g'}. "
            "'policies' is a required property",
        ),
        (
            "2.64",
            {"name": "g", "policies": ["affinity"]},
            "Invalid input for field/attribute server_group. Value: "
            "{'name': 'g', 'policies': ['affinity']}. 'policy' is a required property",
        ),
        (
            "2.64",
            {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}},
            "Invalid input for field/attribute max_server_per_host. Value: 0. "
            "0 is less than the minimum of 1",
        ),
        (
            "2.64",
            {"name": "g", "policy": "anti-affinity", "rules": {"other": 1}},
            "Invalid input for field/attribute rules. Value: {'other': 1}. "
            "Additional properties are not allowed ('other' was unexpected)",
        ),
        (
            "2.64",
            {"name": "g", "policy": "affinity", "rules": {"max_server_per_host": 2}},
            "Only anti-affinity policy supports rules.",
        ),
        (
            "2.64",
            {"name": " g", "policy": "affinity"},
            "An invalid 'name' value was provided. The name must be: printable characters. "
            "Can not start or end with whitespace.",
        ),
    ],
)
async def test_bad_bodies(
    api: httpx.AsyncClient, version: str, group: dict[str, Any], message: str
) -> None:
    r = await create(api, version, group)
    assert r.status_code == 400
    assert fault(r)["message"] == message
    listed = await api.get(GROUPS, headers=DEMO)
    assert listed.json() == {"server_groups": []}


async def test_rules_may_be_empty_for_any_policy(api: httpx.AsyncClient) -> None:
    r = await create(api, "2.64", {"name": "g", "policy": "affinity", "rules": {}})
    assert r.status_code == 200
    assert r.json()["server_group"]["rules"] == {}


async def test_other_projects_groups_are_not_found(api: httpx.AsyncClient) -> None:
    theirs = await made(api, "admins", ADMIN)
    mine = await made(api, "demos", DEMO)
    r = await api.get(f"{GROUPS}/{theirs}", headers=DEMO)
    assert r.status_code == 404
    assert (await api.delete(f"{GROUPS}/{theirs}", headers=DEMO)).status_code == 404
    assert (await api.get(f"{GROUPS}/{mine}", headers=ADMIN)).status_code == 200

    def names(response: httpx.Response) -> list[str]:
        return [g["name"] for g in response.json()["server_groups"]]

    assert names(await api.get(GROUPS, headers=DEMO)) == ["demos"]
    assert names(await api.get(f"{GROUPS}?all_projects=True", headers=DEMO)) == ["demos"]
    assert names(await api.get(GROUPS, headers=ADMIN)) == ["admins"]
    assert names(await api.get(f"{GROUPS}?all_projects", headers=ADMIN)) == ["admins", "demos"]


async def test_limit_and_offset(api: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c"):
        await made(api, name)

    async def names(query: str, version: str = "2.1") -> list[str]:
        r = await api.get(f"{GROUPS}?{query}", headers=at(version, DEMO))
        assert r.status_code == 200, r.text
        return [g["name"] for g in r.json()["server_groups"]]

    assert await names("limit=2") == ["a", "b"]
    assert await names("limit=2&offset=2") == ["c"]
    assert await names("offset=1") == ["b", "c"]
    assert await names("limit=0") == ["a", "b", "c"]
    assert await names("unknown=1", "2.74") == ["a", "b", "c"]
    r = await api.get(f"{GROUPS}?unknown=1", headers=at("2.75", DEMO))
    assert r.status_code == 400
    assert fault(r)["message"] == "Additional properties are not allowed ('unknown' was unexpected)"
    r = await api.get(f"{GROUPS}?limit=-1", headers=DEMO)
    assert fault(r)["message"] == (
        "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'"
    )


async def test_members_are_the_live_servers(api: httpx.AsyncClient, runtime: Runtime) -> None:
    group_id = await made(api)
    live, deleted = instance(DEMO_PROJECT, DEMO_USER), instance(DEMO_PROJECT, DEMO_USER)
    async with runtime.db.write() as session:
        session.add_all([live, deleted])
        await session.flush()
        deleted.deleted, deleted.deleted_at = deleted.id, utcnow()
        group = await groups_db.get_group(session, fakes.DEMO, group_id)
        for server in (deleted, live):
            session.add(ServerGroupMember(group_id=group.id, instance_uuid=server.uuid))
    shown = await api.get(f"{GROUPS}/{group_id}", headers=DEMO)
    assert shown.json()["server_group"]["members"] == [live.uuid]
    listed = await api.get(GROUPS, headers=DEMO)
    assert listed.json()["server_groups"][0]["members"] == [live.uuid]
    assert (await api.delete(f"{GROUPS}/{group_id}", headers=DEMO)).status_code == 204
    async with runtime.db.read() as session:
        left = await session.scalar(select(func.count()).select_from(ServerGroupMember))
    assert left == 0


async def test_quota(api: httpx.AsyncClient, runtime: Runtime) -> None:
    async with runtime.db.write() as session:
        session.add(Quota(project_id=DEMO_PROJECT, resource="server_groups", hard_limit=1))
    await made(api, "first")
    r = await create(api, "2.64", {"name": "second", "policy": "affinity"})
    assert r.status_code == 403
    assert fault(r)["message"] == "Quota exceeded, too many server groups."
    limits = (await api.get("/compute/v2.1/limits", headers=DEMO)).json()["limits"]["absolute"]
    assert limits["totalServerGroupsUsed"] == 1 and limits["maxServerGroups"] == 1
    assert (await made(api, "admins", ADMIN)) != ""


async def test_count_and_get_group(runtime: Runtime) -> None:
    async with runtime.db.write() as session:
        for project, user in ((DEMO_PROJECT, DEMO_USER), (ADMIN_PROJECT, ADMIN_USER)):
            session.add(
                ServerGroup(
                    uuid=str(uuid.uuid4()), name="g", project_id=project, user_id=user,
                    policy="affinity", rules={},
                )
            )  # fmt: skip
    async with runtime.db.read() as session:
        assert await quota.count_server_groups(session, DEMO_PROJECT) == {"server_groups": 1}
        assert await quota.count_server_groups(session, "nobody") == {"server_groups": 0}
        theirs = await session.scalar(
            select(ServerGroup.uuid).where(ServerGroup.project_id == ADMIN_PROJECT)
        )
        assert theirs is not None
        assert (await groups_db.get_group(session, fakes.ADMIN, theirs)).uuid == theirs
        with pytest.raises(InstanceGroupNotFound, match=f"Instance group {theirs} could not"):
            await groups_db.get_group(session, fakes.DEMO, theirs)


@pytest.mark.parametrize("engine", ENGINES)
async def test_concurrent_creates_stay_within_the_quota(engine: str, tmp_path: Path) -> None:
    async with runtime_on(engine, tmp_path) as rt, api_client(rt) as api:
        async with rt.db.write() as session:
            session.add(Quota(project_id=DEMO_PROJECT, resource="server_groups", hard_limit=2))
        answers = await asyncio.gather(
            *(create(api, "2.64", {"name": f"g{i}", "policy": "affinity"}) for i in range(6))
        )
        created = [r for r in answers if r.status_code == 200]
        refused = [r for r in answers if r.status_code != 200]
        assert len(created) == 2
        assert {fault(r)["message"] for r in refused} == {"Quota exceeded, too many server groups."}
        listed = (await api.get(GROUPS, headers=DEMO)).json()["server_groups"]
        assert sorted(g["id"] for g in listed) == sorted(
            r.json()["server_group"]["id"] for r in created
        )
