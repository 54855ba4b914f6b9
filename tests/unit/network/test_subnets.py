"""Subnets: defaults, IPv6, validation, overlap, deletion while in use."""

from __future__ import annotations

import httpx

from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron


async def test_ipv4_defaults(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network()
    sub = await neutron.subnet(net["id"], "192.168.5.0/24", name="s")
    assert sub["gateway_ip"] == "192.168.5.1"
    assert sub["allocation_pools"] == [{"start": "192.168.5.2", "end": "192.168.5.254"}]
    assert sub["enable_dhcp"] is True and sub["ip_version"] == 4
    shown = (await api.get(f"{V2}/networks/{net['id']}", headers=DEMO)).json()["network"]
    assert shown["subnets"] == [sub["id"]]


async def test_ipv6_and_no_gateway(neutron: Neutron) -> None:
    net = await neutron.network()
    sub = await neutron.subnet(
        net["id"], "fd00:1::/64", ipv6_address_mode="slaac", ipv6_ra_mode="slaac"
    )
    assert sub["gateway_ip"] == "fd00:1::1"
    assert sub["allocation_pools"] == [{"start": "fd00:1::2", "end": "fd00:1::ffff:ffff:ffff:ffff"}]
    sub4 = await neutron.subnet(net["id"], "10.9.0.0/29", gateway_ip=None)
    assert sub4["gateway_ip"] is None
    assert sub4["allocation_pools"] == [{"start": "10.9.0.1", "end": "10.9.0.6"}]


async def test_explicit_gateway_pools_dns_routes(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network()
    sub = await neutron.subnet(
        net["id"],
        "10.0.0.0/24",
        gateway_ip="10.0.0.254",
        allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"}],
        dns_nameservers=["8.8.8.8"],
        host_routes=[{"destination": "10.1.0.0/16", "nexthop": "10.0.0.5"}],
    )
    assert sub["gateway_ip"] == "10.0.0.254" and sub["dns_nameservers"] == ["8.8.8.8"]
    assert sub["host_routes"] == [{"destination": "10.1.0.0/16", "nexthop": "10.0.0.5"}]
    resp = await api.put(
        f"{V2}/subnets/{sub['id']}",
        json={"subnet": {"enable_dhcp": False, "name": "x"}},
        headers=DEMO,
    )
    assert resp.json()["subnet"]["enable_dhcp"] is False
    assert resp.json()["subnet"]["revision_number"] == 1
    resp = await api.put(
        f"{V2}/subnets/{sub['id']}", json={"subnet": {"cidr": "10.0.1.0/24"}}, headers=DEMO
    )
    assert resp.status_code == 400


async def test_invalid_subnets(neutron: Neutron) -> None:
    net = await neutron.network()
    bad = [
        {"cidr": "10.0.0.0/24", "ip_version": 6},
        {"cidr": "fd00::/64", "ip_version": 4},
        {"cidr": "10.0.0.1/24", "ip_version": 4},
        {"cidr": "nonsense", "ip_version": 4},
        {"ip_version": 4},
        {"cidr": "10.0.0.0/24", "ip_version": 5},
        {"cidr": "10.0.0.0/24", "gateway_ip": "10.1.0.1"},
        {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]},
        {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.9", "end": "10.0.1.9"}]},
        {
            "cidr": "10.0.0.0/24",
            "allocation_pools": [
                {"start": "10.0.0.5", "end": "10.0.0.9"},
                {"start": "10.0.0.8", "end": "10.0.0.12"},
            ],
        },
        {"cidr": "10.0.0.0/24", "dns_nameservers": ["x"]},
        {
            "cidr": "10.0.0.0/24",
            "host_routes": [{"destination": "fd00::/64", "nexthop": "10.0.0.3"}],
        },
        {"cidr": "10.0.0.0/24", "ipv6_ra_mode": "slaac"},
    ]
    for attrs in bad:
        error = await neutron.create("subnet", {"network_id": net["id"], **attrs}, DEMO, code=400)
        assert error["type"] == "InvalidInput", attrs
    error = await neutron.create("subnet", {"cidr": "10.0.0.0/24"}, DEMO, code=400)
    assert error["type"] == "InvalidInput"


async def test_overlapping_cidr_on_one_network(neutron: Neutron) -> None:
    net = await neutron.network()
    await neutron.subnet(net["id"], "10.0.0.0/16")
    error = await neutron.create(
        "subnet", {"network_id": net["id"], "cidr": "10.0.3.0/24", "ip_version": 4}, DEMO, code=400
    )
    assert error["message"] == (
        "Invalid input for operation: Requested subnet with cidr: 10.0.3.0/24 for network: "
        f"{net['id']} overlaps with another subnet."
    )
    other = await neutron.network()
    await neutron.subnet(other["id"], "10.0.3.0/24")


async def test_subnet_on_foreign_network(neutron: Neutron) -> None:
    private = await neutron.network(ADMIN)
    error = await neutron.create(
        "subnet", {"network_id": private["id"], "cidr": "10.0.0.0/24"}, DEMO, code=404
    )
    assert error["type"] == "NetworkNotFound"


async def test_delete_subnet_in_use(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network()
    sub = await neutron.subnet(net["id"], "10.0.0.0/24")
    port = await neutron.port(net["id"])
    resp = await api.delete(f"{V2}/subnets/{sub['id']}", headers=DEMO)
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["message"] == (
        f"Unable to complete operation on subnet {sub['id']}: "
        "One or more ports have an IP allocation from this subnet."
    )
    await api.delete(f"{V2}/ports/{port['id']}", headers=DEMO)
    assert (await api.delete(f"{V2}/subnets/{sub['id']}", headers=DEMO)).status_code == 204
    resp = await api.get(f"{V2}/subnets/{sub['id']}", headers=DEMO)
    assert resp.json()["NeutronError"]["type"] == "SubnetNotFound"


async def test_list_subnets_filtered(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network()
    await neutron.subnet(net["id"], "10.0.0.0/24")
    await neutron.subnet(net["id"], "fd00::/64")
    body = (await api.get(f"{V2}/subnets?ip_version=6&fields=cidr", headers=DEMO)).json()
    assert body == {"subnets": [{"cidr": "fd00::/64"}]}
    assert (await api.get(f"{V2}/subnets", headers=ADMIN)).json()["subnets"]
