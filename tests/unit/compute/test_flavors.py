"""Flavors through the API: the shapes each microversion shows, filters, paging, writes."""

from __future__ import annotations

import uuid

import httpx
import pytest

from cumulo.compute.bootstrap import ensure_default_flavors
from cumulo.runtime import Runtime
from tests.unit.compute.conftest import ADMIN, DEMO, at, fault, make_flavor

FLAVORS = "/compute/v2.1/flavors"
BASE = "http://cumulo.test/compute"


@pytest.fixture
async def defaults(runtime: Runtime) -> None:
    await ensure_default_flavors(runtime.db)


async def test_list_at_21_is_id_name_links(api: httpx.AsyncClient, defaults: None) -> None:
    r = await api.get(FLAVORS, headers=ADMIN)
    assert r.status_code == 200
    flavors = r.json()["flavors"]
    assert [f["id"] for f in flavors] == ["1", "2", "3", "4", "42"]
    assert flavors[0] == {
        "id": "1",
        "name": "m1.tiny",
        "links": [
            {"rel": "self", "href": f"{BASE}/v2.1/flavors/1"},
            {"rel": "bookmark", "href": f"{BASE}/flavors/1"},
        ],
    }
    assert "flavors_links" not in r.json()


async def test_list_shows_description_from_255(api: httpx.AsyncClient, defaults: None) -> None:
    r = await api.get(FLAVORS, headers=at("2.55"))
    assert r.json()["flavors"][0]["description"] is None


async def test_detail_shapes_by_version(api: httpx.AsyncClient, defaults: None) -> None:
    old = (await api.get(f"{FLAVORS}/detail", headers=ADMIN)).json()["flavors"][0]
    assert old == {
        "id": "1",
        "name": "m1.tiny",
        "ram": 512,
        "disk": 1,
        "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False,
        "vcpus": 1,
        "os-flavor-access:is_public": True,
        "rxtx_factor": 1.0,
        "links": old["links"],
    }
    v260 = (await api.get(f"{FLAVORS}/detail", headers=at("2.60"))).json()["flavors"][0]
    assert v260["description"] is None and "extra_specs" not in v260
    v261 = (await api.get(f"{FLAVORS}/detail", headers=at("2.61"))).json()["flavors"][0]
    assert v261["extra_specs"] == {} and v261["swap"] == ""
    v275 = (await api.get(f"{FLAVORS}/detail", headers=at("2.75"))).json()["flavors"][0]
    assert v275["swap"] == 0


async def test_show_and_unknown_flavor(api: httpx.AsyncClient, defaults: None) -> None:
    r = await api.get(f"{FLAVORS}/42", headers=DEMO)
    assert r.status_code == 200
    assert r.json()["flavor"]["name"] == "c1.nano"
    assert r.json()["flavor"]["ram"] == 128
    r = await api.get(f"{FLAVORS}/m1.nope", headers=DEMO)
    assert r.status_code == 404
    assert fault(r)["message"] == "Flavor m1.nope could not be found."


async def test_legacy_project_url(api: httpx.AsyncClient, defaults: None) -> None:
    from tests.fakes import ADMIN_PROJECT, DEMO_PROJECT

    r = await api.get(f"/compute/v2.1/{ADMIN_PROJECT}/flavors/1", headers=ADMIN)
    assert r.status_code == 200
    links = r.json()["flavor"]["links"]
    assert links[0]["href"] == f"{BASE}/v2.1/{ADMIN_PROJECT}/flavors/1"
    assert links[1]["href"] == f"{BASE}/{ADMIN_PROJECT}/flavors/1"
    r = await api.get(f"/compute/v2.1/{DEMO_PROJECT}/flavors/1", headers=ADMIN)
    assert r.status_code == 400
    assert fault(r)["message"] == (
        f"Malformed request URL: URL's project_id '{DEMO_PROJECT}' doesn't match "
        f"Context's project_id '{ADMIN_PROJECT}'"
    )


async def test_osc_flavor_create_list_show_delete(api: httpx.AsyncClient) -> None:
    """What ``openstack flavor create/list/show/delete`` send (client-requests.md (c) 6)."""
    body = {
        "flavor": {
            "name": "osc", "ram": 1024, "vcpus": 1, "disk": 5, "swap": 0,
            "OS-FLV-EXT-DATA:ephemeral": 0, "os-flavor-access:is_public": True, "id": None,
        }
    }  # fmt: skip
    r = await api.post(FLAVORS, json=body, headers=at("2.61"))
    assert r.status_code == 200
    flavor = r.json()["flavor"]
    uuid.UUID(flavor["id"])
    assert flavor | {"links": None} == {
        "id": flavor["id"], "name": "osc", "ram": 1024, "disk": 5, "swap": "", "vcpus": 1,
        "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": True, "rxtx_factor": 1.0, "description": None,
        "extra_specs": {}, "links": None,
    }  # fmt: skip
    listed = await api.get(f"{FLAVORS}/detail?is_public=True", headers=at("2.61"))
    assert [f["name"] for f in listed.json()["flavors"]] == ["osc"]
    assert (await api.get(f"{FLAVORS}/{flavor['id']}", headers=at("2.61"))).status_code == 200
    r = await api.delete(f"{FLAVORS}/{flavor['id']}", headers=at("2.61"))
    assert r.status_code == 202
    assert r.content == b""
    r = await api.delete(f"{FLAVORS}/{flavor['id']}", headers=at("2.61"))
    assert r.status_code == 404
    assert fault(r)["message"] == f"Flavor {flavor['id']} could not be found."


async def test_create_with_every_field(api: httpx.AsyncClient) -> None:
    flavor = await make_flavor(
        api, "big", "2.75", id=77, ram="2048", vcpus=2, disk=0, swap=512,
        rxtx_factor="2.5", **{"OS-FLV-EXT-DATA:ephemeral": 10,
                              "os-flavor-access:is_public": "false"},
        description="A big one",
    )  # fmt: skip
    assert flavor["id"] == "77"
    assert (flavor["ram"], flavor["vcpus"], flavor["disk"], flavor["swap"]) == (2048, 2, 0, 512)
    assert flavor["OS-FLV-EXT-DATA:ephemeral"] == 10
    assert flavor["rxtx_factor"] == 2.5
    assert flavor["os-flavor-access:is_public"] is False
    assert flavor["description"] == "A big one"


async def test_id_zero_gets_a_generated_id(api: httpx.AsyncClient) -> None:
    flavor = await make_flavor(api, "zero", id=0)
    uuid.UUID(flavor["id"])


async def test_duplicates_conflict(api: httpx.AsyncClient) -> None:
    await make_flavor(api, "dup", id="d1")
    body = {"name": "dup", "ram": 1, "vcpus": 1, "disk": 0}
    r = await api.post(FLAVORS, json={"flavor": {**body, "id": "d2"}}, headers=ADMIN)
    assert r.status_code == 409
    assert fault(r)["message"] == "Flavor with name dup already exists."
    assert "conflictingRequest" in r.json()
    r = await api.post(FLAVORS, json={"flavor": {**body, "name": "d", "id": "d1"}}, headers=ADMIN)
    assert r.status_code == 409
    assert fault(r)["message"] == "Flavor with ID d1 already exists."


async def test_update_description_from_255(api: httpx.AsyncClient) -> None:
    flavor = await make_flavor(api, "desc", id="desc")
    body = {"flavor": {"description": "now described"}}
    r = await api.put(f"{FLAVORS}/desc", json=body, headers=at("2.54"))
    assert r.status_code == 404
    assert fault(r)["message"] == "The resource could not be found."
    r = await api.put(f"{FLAVORS}/desc", json=body, headers=at("2.61"))
    assert r.status_code == 200
    assert r.json()["flavor"]["description"] == "now described"
    assert r.json()["flavor"]["extra_specs"] == {}
    shown = await api.get(f"{FLAVORS}/{flavor['id']}", headers=at("2.55"))
    assert shown.json()["flavor"]["description"] == "now described"
    r = await api.put(f"{FLAVORS}/nope", json=body, headers=at("2.55"))
    assert r.status_code == 404
    r = await api.put(f"{FLAVORS}/desc", json={"flavor": {}}, headers=at("2.55"))
    assert r.status_code == 400
    assert "'description' is a required property" in fault(r)["message"]
    r = await api.put(f"{FLAVORS}/desc", json=body, headers=at("2.55", DEMO))
    assert r.status_code == 403


async def test_members_may_not_write_flavors(api: httpx.AsyncClient, defaults: None) -> None:
    body = {"flavor": {"name": "mine", "ram": 1, "vcpus": 1, "disk": 1}}
    r = await api.post(FLAVORS, json=body, headers=DEMO)
    assert r.status_code == 403
    assert fault(r)["message"] == "Policy doesn't allow compute:flavors:create to be performed."
    assert "forbidden" in r.json()
    r = await api.delete(f"{FLAVORS}/1", headers=DEMO)
    assert r.status_code == 403
    # Nova validates the body before it asks the policy.
    r = await api.post(FLAVORS, json={"flavor": {"name": "x"}}, headers=DEMO)
    assert r.status_code == 400


async def test_filters(api: httpx.AsyncClient, defaults: None) -> None:
    async def names(query: str) -> list[str]:
        r = await api.get(f"{FLAVORS}?{query}", headers=ADMIN)
        assert r.status_code == 200, r.text
        return [f["name"] for f in r.json()["flavors"]]

    assert await names("minRam=4096") == ["m1.medium", "m1.large"]
    assert await names("minDisk=40&minRam=8192") == ["m1.large"]
    assert await names("sort_key=memory_mb&sort_dir=desc") == [
        "m1.large", "m1.medium", "m1.small", "m1.tiny", "c1.nano"
    ]  # fmt: skip
    assert await names("sort_key=name") == [
        "c1.nano",
        "m1.large",
        "m1.medium",
        "m1.small",
        "m1.tiny",
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("minRam=big", "Invalid minRam filter [big]"),
        ("minDisk=1.5", "Invalid minDisk filter [1.5]"),
        ("is_public=maybe", "Invalid is_public filter [maybe]"),
        ("marker=nope", "marker [nope] not found"),
        (
            "limit=abc",
            "Invalid input for query parameters limit. Value: abc. 'abc' does not match '^[0-9]*$'",
        ),
        ("limit=-1", "Invalid input for query parameters limit. Value: -1."),
        (
            "sort_key=colour",
            "Invalid input for query parameters sort_key. Value: colour. "
            "'colour' is not one of ['created_at',",
        ),
        (
            "sort_dir=up",
            "Invalid input for query parameters sort_dir. Value: up. "
            "'up' is not one of ['asc', 'desc']",
        ),
    ],
)
async def test_bad_list_queries(api: httpx.AsyncClient, query: str, message: str) -> None:
    r = await api.get(f"{FLAVORS}/detail?{query}", headers=ADMIN)
    assert r.status_code == 400
    assert fault(r)["message"].startswith(message)


async def test_unknown_query_parameters_are_refused_from_275(
    api: httpx.AsyncClient, defaults: None
) -> None:
    r = await api.get(f"{FLAVORS}?colour=red", headers=at("2.74"))
    assert r.status_code == 200
    r = await api.get(f"{FLAVORS}?colour=red&name=x", headers=at("2.75"))
    assert r.status_code == 400
    assert fault(r)["message"] == (
        "Additional properties are not allowed ('colour', 'name' were unexpected)"
    )


async def test_paging_follows_next_links(api: httpx.AsyncClient, defaults: None) -> None:
    url = f"{FLAVORS}/detail?limit=2&is_public=None"
    seen = []
    while url:
        r = await api.get(url, headers=ADMIN)
        assert r.status_code == 200
        seen += [f["id"] for f in r.json()["flavors"]]
        links = r.json().get("flavors_links", [])
        url = links[0]["href"].removeprefix("http://cumulo.test") if links else ""
        if links:
            assert links[0]["rel"] == "next"
            assert "is_public=None" in links[0]["href"] and "limit=2" in links[0]["href"]
    assert seen == ["1", "2", "3", "4", "42"]
    r = await api.get(f"{FLAVORS}?limit=0", headers=ADMIN)
    assert r.json() == {"flavors": []}
    r = await api.get(f"{FLAVORS}?marker=3&sort_dir=desc", headers=ADMIN)
    assert [f["id"] for f in r.json()["flavors"]] == ["2", "1"]


async def test_max_limit_caps_a_page(
    api: httpx.AsyncClient, runtime: Runtime, defaults: None
) -> None:
    runtime.settings.api.max_limit = 3
    r = await api.get(FLAVORS, headers=ADMIN)
    assert [f["id"] for f in r.json()["flavors"]] == ["1", "2", "3"]
    assert r.json()["flavors_links"][0]["href"].endswith("/v2.1/flavors?marker=3")
