"""GET and PUT /servers/{id}: who may see and change a server, what a PUT accepts and answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cumulo.db.models.instances import ServerGroup, ServerGroupMember
from cumulo.runtime import Runtime
from tests import compute_rows
from tests.fakes import DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import ADMIN, DEMO, OTHER_PROJECT, at, fault
from tests.unit.compute.servers.conftest import SERVERS, add, at_time, row, vif

MAC = "fa:16:3e:00:00:0a"


async def server(runtime: Runtime, project: str = DEMO_PROJECT, **fields: Any) -> str:
    values: dict[str, Any] = {
        "display_name": "web",
        "updated_at": at_time(1),
        "network_info": [vif("private", MAC, ("10.0.0.5", 4))],
        "security_groups": ["default"],
        **fields,
    }
    instance = compute_rows.instance(project, DEMO_USER, **values)
    await add(runtime, instance)
    return instance.uuid


async def put(
    api: httpx.AsyncClient,
    ident: str,
    body: Any,
    version: str = "2.1",
    token: dict[str, str] = DEMO,
) -> httpx.Response:
    return await api.put(f"{SERVERS}/{ident}", json=body, headers=at(version, token))


# --- GET -----------------------------------------------------------------------------------


async def test_another_projects_server_is_not_found(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    ident = await server(runtime, OTHER_PROJECT)
    r = await api.get(f"{SERVERS}/{ident}", headers=DEMO)
    assert r.status_code == 404
    assert fault(r)["message"] == f"Instance {ident} could not be found."
    assert (await api.get(f"{SERVERS}/{ident}", headers=ADMIN)).status_code == 200


async def test_deleted_and_unknown_servers_are_not_found(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    ident = await server(runtime, deleted=3, vm_state="deleted")
    for token in (DEMO, ADMIN):
        r = await api.get(f"{SERVERS}/{ident}", headers=token)
        assert r.status_code == 404
    r = await api.get(f"{SERVERS}/web", headers=DEMO)
    assert r.status_code == 404
    assert fault(r)["message"] == "Instance web could not be found."


async def test_detail_is_not_a_server_id(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime)
    r = await api.get(f"{SERVERS}/detail", headers=DEMO)
    assert r.status_code == 200 and r.json()["servers"][0]["name"] == "web"


async def test_needs_a_token(api: httpx.AsyncClient) -> None:
    assert (await api.get(SERVERS)).status_code == 401


# --- PUT -----------------------------------------------------------------------------------


async def test_rename_at_21_answers_the_short_body(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Before 2.75 Nova leaves out AZ, key, states, volumes, groups and the address details."""
    ident = await server(runtime)
    r = await put(api, ident, {"server": {"name": "www"}})
    assert r.status_code == 200, r.text
    body = r.json()["server"]
    assert body["name"] == "www"
    assert sorted(body) == sorted(
        [
            "id", "name", "status", "tenant_id", "user_id", "metadata", "hostId", "image",
            "flavor", "created", "updated", "addresses", "accessIPv4", "accessIPv6", "links",
            "OS-DCF:diskConfig", "progress",
        ]
    )  # fmt: skip
    assert body["addresses"] == {"private": [{"version": 4, "addr": "10.0.0.5"}]}
    assert body["updated"] != "2024-01-02T03:01:00Z"
    assert (await row(runtime, ident)).display_name == "www"
    shown = (await api.get(f"{SERVERS}/{ident}", headers=DEMO)).json()["server"]
    assert shown["name"] == "www"


async def test_put_at_271_and_275(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ident = await server(runtime)
    group = ServerGroup(
        uuid="6f0e4a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
        name="g",
        project_id=DEMO_PROJECT,
        user_id=DEMO_USER,
        policy="anti-affinity",
    )
    await add(runtime, group)
    await add(runtime, ServerGroupMember(group_id=group.id, instance_uuid=ident))
    v271 = (await put(api, ident, {"server": {}}, "2.71")).json()["server"]
    assert v271["server_groups"] == [group.uuid]
    assert "OS-EXT-AZ:availability_zone" not in v271 and "security_groups" not in v271
    v275 = (await put(api, ident, {"server": {}}, "2.75")).json()["server"]
    shown = (await api.get(f"{SERVERS}/{ident}", headers=at("2.75", DEMO))).json()["server"]
    assert v275 == {**shown, "updated": v275["updated"]}
    admin = (await put(api, ident, {"server": {}}, "2.75", ADMIN)).json()["server"]
    assert admin["host_status"] == "" and admin["OS-EXT-SRV-ATTR:user_data"] is None


async def test_description_from_219(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ident = await server(runtime, display_description="old")
    r = await put(api, ident, {"server": {"description": "new"}}, "2.18")
    assert r.status_code == 400
    assert fault(r)["message"] == (
        "Invalid input for field/attribute server. Value: {'description': 'new'}. "
        "Additional properties are not allowed ('description' was unexpected)"
    )
    r = await put(api, ident, {"server": {"description": "new"}}, "2.19")
    assert r.json()["server"]["description"] == "new"
    r = await put(api, ident, {"server": {"name": "web2"}}, "2.19")
    assert r.json()["server"]["description"] == "new"
    r = await put(api, ident, {"server": {"description": None}}, "2.19")
    assert r.json()["server"]["description"] is None


async def test_hostname_from_290_and_fqdn_from_294(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    ident = await server(runtime)
    r = await put(api, ident, {"server": {"hostname": "web-2"}}, "2.89")
    assert r.status_code == 400
    r = await put(api, ident, {"server": {"hostname": "web-2"}}, "2.90")
    assert r.json()["server"]["OS-EXT-SRV-ATTR:hostname"] == "web-2"
    r = await put(api, ident, {"server": {"hostname": "web.example.org"}}, "2.90")
    assert r.status_code == 400
    assert fault(r)["message"] == (
        "Invalid input for field/attribute hostname. Value: web.example.org. "
        "'web.example.org' does not match '^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$'"
    )
    r = await put(api, ident, {"server": {"hostname": "web.example.org"}}, "2.94")
    assert r.json()["server"]["OS-EXT-SRV-ATTR:hostname"] == "web.example.org"
    assert (await row(runtime, ident)).hostname == "web.example.org"


async def test_access_ips_and_disk_config(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ident = await server(runtime)
    change = {"accessIPv4": "192.0.2.10", "accessIPv6": "2001:db8::1", "OS-DCF:diskConfig": "AUTO"}
    body = (await put(api, ident, {"server": change})).json()["server"]
    assert body["accessIPv4"] == "192.0.2.10" and body["accessIPv6"] == "2001:db8::1"
    assert body["OS-DCF:diskConfig"] == "AUTO"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"server": {"accessIPv4": "bad"}},
            "Invalid input for field/attribute accessIPv4. Value: bad. 'bad' is not a 'ipv4'",
        ),
        (
            {"server": {"name": None}},
            "Invalid input for field/attribute name. Value: None. None is not of type 'string'",
        ),
        (
            {"server": {"name": " web"}},
            "An invalid 'name' value was provided. The name must be: printable characters. "
            "Can not start or end with whitespace.",
        ),
        (
            {"server": {"OS-DCF:diskConfig": "auto"}},
            "Invalid input for field/attribute OS-DCF:diskConfig. Value: auto. "
            "'auto' is not one of ['AUTO', 'MANUAL']",
        ),
        ({}, "'server' is a required property"),
        (
            {"server": {"flavorRef": "1"}},
            "Invalid input for field/attribute server. Value: {'flavorRef': '1'}. "
            "Additional properties are not allowed ('flavorRef' was unexpected)",
        ),
    ],
)
async def test_bad_bodies(
    api: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], message: str
) -> None:
    ident = await server(runtime)
    r = await put(api, ident, body, "2.100")
    assert r.status_code == 400
    assert fault(r)["message"] == message
    assert (await row(runtime, ident)).display_name == "web"


async def test_put_on_another_projects_server(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ident = await server(runtime, OTHER_PROJECT)
    r = await put(api, ident, {"server": {"name": "mine"}})
    assert r.status_code == 404
    assert fault(r)["message"] == f"Instance {ident} could not be found."
    r = await put(api, ident, {"server": {"name": "renamed"}}, token=ADMIN)
    assert r.status_code == 200
    assert (await row(runtime, ident)).display_name == "renamed"
