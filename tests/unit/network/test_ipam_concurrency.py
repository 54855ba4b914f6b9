"""IPAM under concurrent port creation: no address or MAC handed out twice, on every engine."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from tests.unit.network.conftest import DEMO, V2, Neutron


@pytest.mark.parametrize(("cidr", "usable"), [("10.1.0.0/26", 61), ("10.2.0.0/24", 253)])
async def test_concurrent_ports_get_unique_addresses_until_exhausted(
    engine_api: httpx.AsyncClient, cidr: str, usable: int
) -> None:
    neutron = Neutron(engine_api)
    net = await neutron.network()
    subnet = await neutron.subnet(net["id"], cidr)

    async def create() -> httpx.Response:
        return await engine_api.post(
            f"{V2}/ports", json={"port": {"network_id": net["id"]}}, headers=DEMO
        )

    responses = await asyncio.gather(*(create() for _ in range(100)))
    created = [r.json()["port"] for r in responses if r.status_code == 201]
    failed = [r for r in responses if r.status_code != 201]
    assert len(created) == min(100, usable)
    for resp in failed:
        assert resp.status_code == 409
        assert resp.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
        assert resp.json()["NeutronError"]["message"] == (
            f"No more IP addresses available on network {net['id']}."
        )
    addresses = [p["fixed_ips"][0]["ip_address"] for p in created]
    assert len(set(addresses)) == len(addresses)
    assert len({p["mac_address"] for p in created}) == len(created)
    network = ipaddress.ip_network(cidr)
    reserved = {subnet["gateway_ip"], str(network.network_address), str(network.broadcast_address)}
    assert not reserved & set(addresses)
    assert all(ipaddress.ip_address(a) in network for a in addresses)
