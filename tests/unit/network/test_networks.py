"""Networks: CRUD, admin-only attributes, tenant isolation, listing, extensions."""

from __future__ import annotations

import httpx

from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron


async def test_version_discovery(api: httpx.AsyncClient) -> None:
    resp = await api.get("/networking/")
    assert resp.json()["versions"][0]["id"] == "v2.0"


async def test_create_show_update_delete(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network(name="n1", description="d", tags=["a"])
    assert net["mtu"] == 1450 and net["status"] == "ACTIVE" and net["subnets"] == []
    assert net["admin_state_up"] is True and net["shared"] is False
    assert net["router:external"] is False and net["revision_number"] == 0
    assert net["tenant_id"] == net["project_id"] and "provider:network_type" not in net
    assert net["created_at"].endswith("Z")
    resp = await api.put(
        f"{V2}/networks/{net['id']}", json={"network": {"name": "n2"}}, headers=DEMO
    )
    assert resp.status_code == 200
    assert resp.json()["network"]["name"] == "n2"
    assert resp.json()["network"]["revision_number"] == 1
    shown = (await api.get(f"{V2}/networks/{net['id']}", headers=DEMO)).json()["network"]
    assert shown["name"] == "n2"
    resp = await api.delete(f"{V2}/networks/{net['id']}", headers=DEMO)
    assert resp.status_code == 204
    resp = await api.get(f"{V2}/networks/{net['id']}", headers=DEMO)
    assert resp.status_code == 404
    assert resp.json()["NeutronError"] == {
        "type": "NetworkNotFound",
        "message": f"Network {net['id']} could not be found.",
        "detail": "",
    }


async def test_flat_provider_network_has_mtu_1500(neutron: Neutron) -> None:
    net = await neutron.network(
        ADMIN, **{"provider:network_type": "flat", "provider:physical_network": "physnet1"}
    )
    assert net["mtu"] == 1500
    assert net["provider:physical_network"] == "physnet1"


async def test_admin_only_attributes_are_forbidden(neutron: Neutron) -> None:
    for attrs in ({"shared": True}, {"router:external": True}, {"provider:network_type": "flat"}):
        error = await neutron.create("network", attrs, DEMO, code=403)
        assert error["type"] == "HTTPForbidden"


async def test_bad_bodies(api: httpx.AsyncClient, neutron: Neutron) -> None:
    error = await neutron.create("network", {"bogus": 1}, DEMO, code=400)
    assert error["message"] == "Unrecognized attribute(s) 'bogus'"
    error = await neutron.create("network", {"admin_state_up": "maybe"}, DEMO, code=400)
    assert error["type"] == "InvalidInput"
    error = await neutron.create("network", {"provider:network_type": "gre"}, ADMIN, code=400)
    assert error["type"] == "InvalidInput"
    resp = await api.post(f"{V2}/networks", json={"net": {}}, headers=DEMO)
    assert resp.status_code == 400
    net = await neutron.network()
    resp = await api.put(
        f"{V2}/networks/{net['id']}", json={"network": {"tenant_id": "x"}}, headers=DEMO
    )
    assert resp.status_code == 400


async def test_tenant_isolation_and_shared(api: httpx.AsyncClient, neutron: Neutron) -> None:
    private = await neutron.network(ADMIN, name="private")
    shared = await neutron.network(ADMIN, name="shared", shared=True)
    resp = await api.get(f"{V2}/networks/{private['id']}", headers=DEMO)
    assert resp.status_code == 404
    resp = await api.delete(f"{V2}/networks/{private['id']}", headers=DEMO)
    assert resp.status_code == 404
    names = [n["name"] for n in (await api.get(f"{V2}/networks", headers=DEMO)).json()["networks"]]
    assert names == ["shared"]
    resp = await api.put(
        f"{V2}/networks/{shared['id']}", json={"network": {"name": "x"}}, headers=DEMO
    )
    assert resp.status_code == 403


async def test_delete_network_in_use(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network()
    await neutron.subnet(net["id"], "10.0.0.0/24")
    port = await neutron.port(net["id"])
    resp = await api.delete(f"{V2}/networks/{net['id']}", headers=DEMO)
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["type"] == "NetworkInUse"
    assert resp.json()["NeutronError"]["message"] == (
        f"Unable to complete operation on network {net['id']}. "
        "There are one or more ports still in use on the network."
    )
    await api.delete(f"{V2}/ports/{port['id']}", headers=DEMO)
    assert (await api.delete(f"{V2}/networks/{net['id']}", headers=DEMO)).status_code == 204


async def test_list_filters_fields_sort_and_pages(api: httpx.AsyncClient, neutron: Neutron) -> None:
    for name in ("c", "a", "b"):
        await neutron.network(name=name)
    resp = await api.get(f"{V2}/networks?name=a&name=b&fields=name&fields=id", headers=DEMO)
    nets = resp.json()["networks"]
    assert sorted(n["name"] for n in nets) == ["a", "b"]
    assert all(set(n) == {"id", "name"} for n in nets)
    resp = await api.get(f"{V2}/networks?admin_state_up=true&shared=False", headers=DEMO)
    assert len(resp.json()["networks"]) == 3
    url = f"{V2}/networks?sort_key=name&sort_dir=desc&limit=2"
    body = (await api.get(url, headers=DEMO)).json()
    assert [n["name"] for n in body["networks"]] == ["c", "b"]
    next_url = body["networks_links"][0]["href"]
    assert body["networks_links"][0]["rel"] == "next"
    body = (await api.get(next_url.replace("http://cumulo.test", ""), headers=DEMO)).json()
    assert [n["name"] for n in body["networks"]] == ["a"]
    assert "networks_links" not in body


async def test_bad_sort_parameters(api: httpx.AsyncClient, neutron: Neutron) -> None:
    await neutron.network()
    for query in (
        "sort_key=name&sort_dir=up",
        "sort_key=nope",
        "sort_key=name&sort_dir=asc&sort_dir=asc",
    ):
        resp = await api.get(f"{V2}/networks?{query}", headers=DEMO)
        assert resp.status_code == 400, query


async def test_show_with_fields(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network()
    resp = await api.get(f"{V2}/networks/{net['id']}?fields=mtu", headers=DEMO)
    assert resp.json() == {"network": {"mtu": 1450}}


async def test_extensions(api: httpx.AsyncClient) -> None:
    body = (await api.get(f"{V2}/extensions", headers=DEMO)).json()
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"external-net", "provider", "binding", "port-security"} <= aliases
    resp = await api.get(f"{V2}/extensions/provider", headers=DEMO)
    assert resp.json()["extension"]["alias"] == "provider"
    resp = await api.get(f"{V2}/extensions/nope", headers=DEMO)
    assert resp.status_code == 404
    assert resp.json()["NeutronError"]["type"] == "ExtensionNotFound"


async def test_requires_token(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{V2}/networks")).status_code == 401
