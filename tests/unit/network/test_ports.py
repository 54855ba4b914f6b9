"""Ports: addresses, MACs, bindings, isolation, updates."""

from __future__ import annotations

import httpx

from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron


async def _net(neutron: Neutron, cidr: str = "10.0.0.0/24") -> tuple[dict, dict]:
    net = await neutron.network()
    return net, await neutron.subnet(net["id"], cidr)


async def test_port_shape(neutron: Neutron) -> None:
    net, sub = await _net(neutron)
    port = await neutron.port(
        net["id"],
        device_id="dev",
        device_owner="compute:nova",
        allowed_address_pairs=[{"ip_address": "10.0.0.200"}],
        extra_dhcp_opts=[{"opt_name": "mtu", "opt_value": "1400"}],
    )
    assert port["status"] == "DOWN" and port["mac_address"].startswith("fa:16:3e:")
    assert port["device_id"] == "dev" and port["device_owner"] == "compute:nova"
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    assert port["port_security_enabled"] is True and len(port["security_groups"]) == 1
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.0.0.200", "mac_address": port["mac_address"]}
    ]
    assert port["extra_dhcp_opts"] == [{"opt_name": "mtu", "opt_value": "1400", "ip_version": 4}]
    assert "binding:host_id" not in port


async def test_dual_stack_port_and_no_ips(neutron: Neutron) -> None:
    net, _ = await _net(neutron)
    await neutron.subnet(net["id"], "fd00::/64")
    port = await neutron.port(net["id"])
    assert sorted(":" in ip["ip_address"] for ip in port["fixed_ips"]) == [False, True]
    assert (await neutron.port(net["id"], fixed_ips=[]))["fixed_ips"] == []


async def test_requested_addresses(neutron: Neutron) -> None:
    net, sub = await _net(neutron)
    port = await neutron.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.77"}])
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.77"}]
    error = await neutron.create(
        "port", {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.77"}]}, code=409
    )
    assert error == {
        "type": "IpAddressAlreadyAllocated",
        "message": f"IP address 10.0.0.77 already allocated in subnet {sub['id']}",
        "detail": "",
    }
    port = await neutron.port(net["id"], fixed_ips=[{"subnet_id": sub["id"]}])
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    twice = [{"ip_address": "10.0.0.78"}, {"ip_address": "10.0.0.78"}]
    error = await neutron.create("port", {"network_id": net["id"], "fixed_ips": twice}, code=409)
    assert error["type"] == "IpAddressAlreadyAllocated"


async def test_invalid_requested_addresses(neutron: Neutron) -> None:
    net, sub = await _net(neutron)
    cases = {
        "InvalidIpForNetwork": [{"ip_address": "10.5.0.3"}],
        "InvalidIpForSubnet": [{"subnet_id": sub["id"], "ip_address": "10.0.0.1"}],
        "InvalidInput": [{"subnet_id": "nope"}],
    }
    for kind, fixed in cases.items():
        error = await neutron.create(
            "port", {"network_id": net["id"], "fixed_ips": fixed}, code=400
        )
        assert error["type"] == kind
    for reserved in ("10.0.0.0", "10.0.0.255", "bad"):
        error = await neutron.create(
            "port", {"network_id": net["id"], "fixed_ips": [{"ip_address": reserved}]}, code=400
        )
    for fixed in ([{}], ["x"], [{"foo": "1"}]):
        await neutron.create("port", {"network_id": net["id"], "fixed_ips": fixed}, code=400)
    await neutron.create("port", {"name": "no-network"}, code=400)


async def test_exhaustion_on_a_tiny_subnet(neutron: Neutron) -> None:
    net, _ = await _net(neutron, "10.0.0.0/30")
    port = await neutron.port(net["id"])
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    error = await neutron.create("port", {"network_id": net["id"]}, code=409)
    assert error["type"] == "IpAddressGenerationFailure"


async def test_mac_address_in_use(neutron: Neutron) -> None:
    net, _ = await _net(neutron)
    port = await neutron.port(net["id"], mac_address="fa:16:3e:00:00:01")
    error = await neutron.create(
        "port", {"network_id": net["id"], "mac_address": port["mac_address"]}, code=409
    )
    assert error["message"] == (
        f"Unable to complete operation for network {net['id']}. "
        "The mac address fa:16:3e:00:00:01 is in use."
    )


async def test_binding_is_admin_only(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net, _ = await _net(neutron)
    error = await neutron.create(
        "port", {"network_id": net["id"], "binding:host_id": "h"}, code=403
    )
    assert error["type"] == "HTTPForbidden"
    port = await neutron.port(net["id"], ADMIN, **{"binding:host_id": "host1"})
    assert port["binding:host_id"] == "host1" and port["binding:vif_type"] == "bridge"
    resp = await api.put(
        f"{V2}/ports/{port['id']}", json={"port": {"binding:host_id": ""}}, headers=ADMIN
    )
    assert resp.json()["port"]["binding:vif_type"] == "unbound"


async def test_bad_port_attributes(neutron: Neutron) -> None:
    net, _ = await _net(neutron)
    for attrs in (
        {"allowed_address_pairs": [{"mac_address": "x"}]},
        {"extra_dhcp_opts": [{"opt_name": "x"}]},
        {"admin_state_up": 3},
    ):
        await neutron.create("port", {"network_id": net["id"], **attrs}, code=400)


async def test_isolation(api: httpx.AsyncClient, neutron: Neutron) -> None:
    shared = await neutron.network(ADMIN, shared=True)
    await neutron.subnet(shared["id"], "10.0.0.0/24", ADMIN)
    admin_port = await neutron.port(shared["id"], ADMIN)
    mine = await neutron.port(shared["id"])
    assert mine["project_id"] != admin_port["project_id"]
    for method in ("get", "delete"):
        resp = await api.request(method, f"{V2}/ports/{admin_port['id']}", headers=DEMO)
        assert resp.status_code == 404
        assert resp.json()["NeutronError"]["type"] == "PortNotFound"
    ids = [p["id"] for p in (await api.get(f"{V2}/ports", headers=DEMO)).json()["ports"]]
    assert ids == [mine["id"]]
    private = await neutron.network(ADMIN)
    error = await neutron.create("port", {"network_id": private["id"]}, code=404)
    assert error["type"] == "NetworkNotFound"


async def test_update_and_delete(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net, sub = await _net(neutron)
    other = await neutron.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.9"}])
    port = await neutron.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.8"}])
    url = f"{V2}/ports/{port['id']}"
    body = {"port": {"name": "p", "device_id": "vm", "fixed_ips": [{"ip_address": "10.0.0.50"}]}}
    resp = await api.put(url, json=body, headers=DEMO)
    updated = resp.json()["port"]
    assert updated["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.50"}]
    assert updated["name"] == "p" and updated["revision_number"] == 1
    body = {"port": {"fixed_ips": [{"ip_address": "10.0.0.9"}]}}
    resp = await api.put(url, json=body, headers=DEMO)
    assert resp.status_code == 409
    resp = await api.put(url, json={"port": {"mac_address": other["mac_address"]}}, headers=DEMO)
    assert resp.json()["NeutronError"]["type"] == "MacAddressInUse"
    resp = await api.put(url, json={"port": {"network_id": net["id"]}}, headers=DEMO)
    assert resp.status_code == 400
    assert (await api.delete(url, headers=DEMO)).status_code == 204
    assert (await api.delete(url, headers=DEMO)).status_code == 404
    again = await neutron.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.50"}])
    assert again["fixed_ips"][0]["ip_address"] == "10.0.0.50"


async def test_list_filter_by_fixed_ip_and_device(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net, _ = await _net(neutron)
    port = await neutron.port(net["id"], device_id="vm1", fixed_ips=[{"ip_address": "10.0.0.5"}])
    await neutron.port(net["id"], device_id="vm2")
    query = "fixed_ips=ip_address%3D10.0.0.5&fields=id"
    body = (await api.get(f"{V2}/ports?{query}", headers=DEMO)).json()
    assert body == {"ports": [{"id": port["id"]}]}
    body = (await api.get(f"{V2}/ports?device_id=vm1&device_id=vm2", headers=DEMO)).json()
    assert len(body["ports"]) == 2
    resp = await api.get(f"{V2}/ports/{port['id']}?fields=mac_address", headers=DEMO)
    assert resp.json() == {"port": {"mac_address": port["mac_address"]}}
