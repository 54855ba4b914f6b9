"""Routers and floating IPs through the Neutron API: shapes, the interface and gateway
ports they own, the association rules, the errors Neutron gives and what they leave."""

from __future__ import annotations

from typing import Any

import httpx

from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron


async def _external(neutron: Neutron, cidr: str = "203.0.113.0/24") -> tuple[dict, dict]:
    net = await neutron.network(
        ADMIN, name="public", **{"router:external": True, "provider:network_type": "flat"}
    )
    return net, await neutron.subnet(net["id"], cidr, ADMIN, enable_dhcp=False)


async def _tenant(neutron: Neutron, cidr: str = "10.0.0.0/24") -> tuple[dict, dict]:
    net = await neutron.network()
    return net, await neutron.subnet(net["id"], cidr)


async def _put(
    api: httpx.AsyncClient, path: str, body: Any, headers: dict = DEMO
) -> httpx.Response:
    return await api.put(f"{V2}/{path}", json=body, headers=headers)


async def _ports(api: httpx.AsyncClient, **query: str) -> list[dict]:
    resp = await api.get(f"{V2}/ports", params=query, headers=ADMIN)
    return list(resp.json()["ports"])


async def _routed(api: httpx.AsyncClient, neutron: Neutron) -> tuple[dict, dict, dict, dict]:
    """A router between a demo subnet and the external network; a port on the subnet."""
    ext, _ = await _external(neutron)
    net, sub = await _tenant(neutron)
    router = await neutron.create(
        "router", {"name": "r", "external_gateway_info": {"network_id": ext["id"]}}
    )
    resp = await _put(api, f"routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert resp.status_code == 200, resp.text
    port = await neutron.port(net["id"])
    return ext, sub, router, port


async def test_router_shape_and_gateway(api: httpx.AsyncClient, neutron: Neutron) -> None:
    ext, ext_sub = await _external(neutron)
    router = await neutron.create("router", {"name": "r1", "admin_state_up": True})
    assert router["external_gateway_info"] is None and router["status"] == "ACTIVE"
    assert router["routes"] == [] and router["project_id"] == router["tenant_id"]

    resp = await _put(
        api,
        f"routers/{router['id']}",
        {"router": {"external_gateway_info": {"network_id": ext["id"]}}},
    )
    assert resp.status_code == 200, resp.text
    info = resp.json()["router"]["external_gateway_info"]
    assert info["network_id"] == ext["id"] and info["enable_snat"] is True
    (fixed,) = info["external_fixed_ips"]
    assert fixed["subnet_id"] == ext_sub["id"] and fixed["ip_address"].startswith("203.0.113.")
    (gateway,) = await _ports(api, device_id=router["id"])
    assert gateway["device_owner"] == "network:router_gateway" and gateway["project_id"] == ""
    listed = (await api.get(f"{V2}/routers", headers=DEMO)).json()["routers"]
    assert [r["id"] for r in listed] == [router["id"]]

    resp = await _put(api, f"routers/{router['id']}", {"router": {"external_gateway_info": {}}})
    assert resp.json()["router"]["external_gateway_info"] is None
    assert await _ports(api, device_id=router["id"]) == []


async def test_gateway_needs_an_external_network_and_admin_for_its_options(
    api: httpx.AsyncClient, neutron: Neutron
) -> None:
    net, _ = await _tenant(neutron)
    err = await neutron.create(
        "router", {"external_gateway_info": {"network_id": net["id"]}}, code=400
    )
    assert err["message"] == f"Bad router request: Network {net['id']} is not an external network."
    assert (await api.get(f"{V2}/routers", headers=DEMO)).json()["routers"] == []
    ext, _ = await _external(neutron)
    gateway = {"network_id": ext["id"], "enable_snat": False}
    err = await neutron.create("router", {"external_gateway_info": gateway}, code=403)
    assert "network:router:enable_snat" in err["message"]
    router = await neutron.create("router", {"external_gateway_info": gateway}, ADMIN)
    assert router["external_gateway_info"]["enable_snat"] is False


async def test_interface_by_subnet_takes_the_gateway_address(
    api: httpx.AsyncClient, neutron: Neutron
) -> None:
    net, sub = await _tenant(neutron)
    router = await neutron.create("router", {"name": "r"})
    resp = await _put(api, f"routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["id"] == router["id"] and answer["subnet_id"] == sub["id"]
    assert answer["subnet_ids"] == [sub["id"]] and answer["network_id"] == net["id"]
    port = (await api.get(f"{V2}/ports/{answer['port_id']}", headers=DEMO)).json()["port"]
    assert port["device_owner"] == "network:router_interface" and port["device_id"] == router["id"]
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.1"}]

    again = await _put(
        api, f"routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}
    )
    assert again.status_code == 400
    assert again.json()["NeutronError"]["message"] == (
        f"Bad router request: Router already has a port on subnet {sub['id']}."
    )
    _, overlapping = await _tenant(neutron, "10.0.0.0/16")
    resp = await _put(
        api, f"routers/{router['id']}/add_router_interface", {"subnet_id": overlapping["id"]}
    )
    assert resp.status_code == 400 and "overlaps with cidr 10.0.0.0/24" in resp.text

    resp = await api.delete(f"{V2}/ports/{port['id']}", headers=DEMO)
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["type"] == "ServicePortInUse"
    resp = await api.delete(f"{V2}/routers/{router['id']}", headers=DEMO)
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["message"] == f"Router {router['id']} still has ports"

    resp = await _put(
        api, f"routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}
    )
    assert resp.status_code == 200 and resp.json()["port_id"] == port["id"]
    assert (await api.get(f"{V2}/ports/{port['id']}", headers=DEMO)).status_code == 404
    resp = await _put(
        api, f"routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}
    )
    assert resp.status_code == 404
    assert resp.json()["NeutronError"]["message"] == (
        f"Router {router['id']} has no interface on subnet {sub['id']}"
    )
    assert (await api.delete(f"{V2}/routers/{router['id']}", headers=DEMO)).status_code == 204


async def test_interface_by_port_and_bad_requests(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net, _ = await _tenant(neutron)
    router = await neutron.create("router", {"name": "r"})
    path = f"routers/{router['id']}/add_router_interface"
    resp = await _put(api, path, {})
    assert resp.json()["NeutronError"]["message"] == (
        "Bad router request: Either subnet_id or port_id must be specified."
    )
    port = await neutron.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.50"}])
    resp = await _put(api, path, {"port_id": port["id"]})
    assert resp.status_code == 200 and resp.json()["port_id"] == port["id"]
    shown = (await api.get(f"{V2}/ports/{port['id']}", headers=DEMO)).json()["port"]
    assert shown["device_owner"] == "network:router_interface"
    used = await neutron.port(net["id"], device_id="some-server")
    resp = await _put(api, path, {"port_id": used["id"]})
    assert resp.status_code == 409 and resp.json()["NeutronError"]["type"] == "PortInUse"
    _, no_gateway = await _tenant(neutron, "10.9.0.0/24")
    await _put(api, f"subnets/{no_gateway['id']}", {"subnet": {"gateway_ip": None}})
    resp = await _put(api, path, {"subnet_id": no_gateway["id"]})
    assert resp.json()["NeutronError"]["message"] == (
        "Bad router request: Subnet for router interface must have a gateway IP."
    )
    other = await api.get(f"{V2}/routers/{router['id']}", headers={"X-Auth-Token": "nobody"})
    assert other.status_code == 401


async def test_floating_ip_lifecycle(api: httpx.AsyncClient, neutron: Neutron) -> None:
    ext, sub, router, port = await _routed(api, neutron)
    fip = await neutron.create("floatingip", {"floating_network_id": ext["id"]})
    assert fip["status"] == "DOWN" and fip["port_id"] is None and fip["router_id"] is None
    assert fip["floating_ip_address"].startswith("203.0.113.") and "name" not in fip
    (owned,) = await _ports(api, device_id=fip["id"])
    assert owned["device_owner"] == "network:floatingip" and owned["project_id"] == ""

    resp = await _put(api, f"floatingips/{fip['id']}", {"floatingip": {"port_id": port["id"]}})
    assert resp.status_code == 200, resp.text
    bound = resp.json()["floatingip"]
    assert bound["port_id"] == port["id"] and bound["router_id"] == router["id"]
    assert bound["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert bound["status"] == "ACTIVE" and bound["port_details"]["network_id"] == port["network_id"]
    listed = await api.get(
        f"{V2}/floatingips",
        params={"floating_ip_address": fip["floating_ip_address"]},
        headers=DEMO,
    )
    assert [f["id"] for f in listed.json()["floatingips"]] == [fip["id"]]

    second = await neutron.create("floatingip", {"floating_network_id": ext["id"]})
    resp = await _put(api, f"floatingips/{second['id']}", {"floatingip": {"port_id": port["id"]}})
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["type"] == "FloatingIPPortAlreadyAssociated"

    resp = await _put(
        api, f"routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}
    )
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["type"] == "RouterInterfaceInUseByFloatingIP"
    resp = await _put(api, f"routers/{router['id']}", {"router": {"external_gateway_info": None}})
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["type"] == "RouterExternalGatewayInUseByFloatingIp"

    assert (await api.delete(f"{V2}/ports/{port['id']}", headers=DEMO)).status_code == 204
    shown = (await api.get(f"{V2}/floatingips/{fip['id']}", headers=DEMO)).json()["floatingip"]
    assert shown["port_id"] is None and shown["status"] == "DOWN" and shown["router_id"] is None
    for one in (fip, second):
        assert (await api.delete(f"{V2}/floatingips/{one['id']}", headers=DEMO)).status_code == 204
    assert await _ports(api, device_owner="network:floatingip") == []
    resp = await api.get(f"{V2}/floatingips/{fip['id']}", headers=DEMO)
    assert resp.status_code == 404
    assert resp.json()["NeutronError"]["message"] == f"Floating IP {fip['id']} could not be found"


async def test_floating_ip_needs_a_router_to_the_port(
    api: httpx.AsyncClient, neutron: Neutron
) -> None:
    ext, _ = await _external(neutron)
    net, sub = await _tenant(neutron)
    port = await neutron.port(net["id"])
    fip = await neutron.create("floatingip", {"floating_network_id": ext["id"]})
    resp = await _put(api, f"floatingips/{fip['id']}", {"floatingip": {"port_id": port["id"]}})
    assert resp.status_code == 404
    assert resp.json()["NeutronError"]["message"] == (
        f"External network {ext['id']} is not reachable from subnet {sub['id']}.  "
        f"Therefore, cannot associate Port {port['id']} with a Floating IP."
    )
    err = await neutron.create(
        "floatingip", {"floating_network_id": ext["id"], "port_id": port["id"]}, code=404
    )
    assert err["type"] == "ExternalGatewayForFloatingIPNotFound"
    assert len(await _ports(api, device_owner="network:floatingip")) == 1
    err = await neutron.create("floatingip", {"floating_network_id": net["id"]}, code=400)
    assert err["message"] == (
        f"Bad floatingip request: Network {net['id']} is not a valid external network."
    )
    err = await neutron.create(
        "floatingip",
        {"floating_network_id": ext["id"], "floating_ip_address": "203.0.113.77"},
        code=403,
    )
    assert "network:floatingip:address" in err["message"]
    chosen = await neutron.create(
        "floatingip",
        {"floating_network_id": ext["id"], "floating_ip_address": "203.0.113.77"},
        ADMIN,
    )
    assert chosen["floating_ip_address"] == "203.0.113.77"


async def test_router_and_floating_ip_quotas(api: httpx.AsyncClient, neutron: Neutron) -> None:
    ext, _ = await _external(neutron)
    project = (await neutron.network())["project_id"]
    resp = await _put(api, f"quotas/{project}", {"quota": {"router": 1, "floatingip": 1}}, ADMIN)
    assert resp.status_code == 200, resp.text
    await neutron.create("router", {"name": "one"})
    err = await neutron.create("router", {"name": "two"}, code=409)
    assert err["message"] == "Quota exceeded for resources: ['router']."
    await neutron.create("floatingip", {"floating_network_id": ext["id"]})
    err = await neutron.create("floatingip", {"floating_network_id": ext["id"]}, code=409)
    assert err["type"] == "OverQuota"
    assert len(await _ports(api, device_owner="network:floatingip")) == 1
    usage = (await api.get(f"{V2}/quotas/{project}/details", headers=ADMIN)).json()
    assert usage["quota"]["router"]["used"] == 1 and usage["quota"]["floatingip"]["used"] == 1
