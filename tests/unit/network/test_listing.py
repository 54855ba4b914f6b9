"""List filters as Neutron validates them: unknown attributes are a 400; tag filters work."""

from __future__ import annotations

import httpx
import pytest

from cumulo.network import secgroups, views
from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron

COLLECTIONS = ["networks", "subnets", "ports", "security-groups", "security-group-rules"]


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_unknown_filter_is_refused(api: httpx.AsyncClient, collection: str) -> None:
    resp = await api.get(f"{V2}/{collection}?bogus=1&name=x", headers=DEMO)
    if collection == "security-group-rules":
        assert resp.status_code == 400
        assert resp.json()["NeutronError"]["message"] == (
            "['bogus', 'name'] is invalid attribute for filtering"
        )
        return
    assert resp.status_code == 400
    assert resp.json() == {
        "NeutronError": {
            "type": "HTTPBadRequest",
            "message": "['bogus'] is invalid attribute for filtering",
            "detail": "",
        }
    }


async def test_known_filters_on_empty_and_full_lists(
    api: httpx.AsyncClient, neutron: Neutron
) -> None:
    query = "router:external=True&fields=id&sort_key=name&sort_dir=asc&limit=5"
    assert (await api.get(f"{V2}/networks?{query}", headers=DEMO)).json()["networks"] == []
    net = await neutron.network()
    port = await neutron.port(net["id"], device_id="vm-1")
    by_device = await api.get(f"{V2}/ports?device_id=vm-1&network_id={net['id']}", headers=DEMO)
    assert [p["id"] for p in by_device.json()["ports"]] == [port["id"]]
    admin_only = await api.get(f"{V2}/ports?binding:host_id=h1", headers=DEMO)
    assert admin_only.status_code == 200 and admin_only.json()["ports"] == []


async def test_tag_filters(api: httpx.AsyncClient, neutron: Neutron) -> None:
    red = await neutron.network(name="red", tags=["a", "b"])
    blue = await neutron.network(name="blue", tags=["b"])
    plain = await neutron.network(name="plain")

    async def names(query: str) -> set[str]:
        resp = await api.get(f"{V2}/networks?{query}", headers=DEMO)
        assert resp.status_code == 200, resp.text
        return {n["name"] for n in resp.json()["networks"]}

    assert await names("tags=a,b") == {red["name"]}
    assert await names("tags-any=a,b") == {red["name"], blue["name"]}
    assert await names("not-tags=a,b") == {blue["name"], plain["name"]}
    assert await names("not-tags-any=a") == {blue["name"], plain["name"]}


async def test_attribute_sets_match_what_an_admin_sees(
    api: httpx.AsyncClient, neutron: Neutron
) -> None:
    net = await neutron.network(ADMIN)
    subnet = await neutron.subnet(net["id"], "10.0.0.0/24", ADMIN)
    port = await neutron.port(net["id"], ADMIN)
    group = await neutron.create("security_group", {"name": "g"}, ADMIN)
    shown = {
        "networks": (net["id"], views.NETWORK),
        "subnets": (subnet["id"], views.SUBNET),
        "ports": (port["id"], views.PORT),
        "security-groups": (group["id"], secgroups.GROUP_ATTRIBUTES),
        "security-group-rules": (
            group["security_group_rules"][0]["id"],
            secgroups.RULE_ATTRIBUTES,
        ),
    }
    for collection, (item_id, attributes) in shown.items():
        body = (await api.get(f"{V2}/{collection}/{item_id}", headers=ADMIN)).json()
        [resource] = body.values()
        assert set(resource) == attributes, collection
