"""A router namespace made by the L3 agent, checked with real packets: a "guest" namespace
on the tenant bridge reaches an "upstream" namespace on the external bridge only through
SNAT, the upstream reaches the guest only at its floating IP, and a router taken out of
the specs leaves nothing behind.

Every test builds in namespaces of its own (a random "host" namespace holds the bridges).
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest

from cumulo.network.agent import linux_net
from cumulo.network.agent.l3_agent import (
    FloatingAddress,
    L3Agent,
    RouterPort,
    RouterSpec,
    gateway_device,
    router_namespace,
    router_specs,
)
from cumulo.network.model import bridge_name, devname
from cumulo.runtime import Runtime
from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron

GUEST_IP = "10.40.0.5"
UPSTREAM_IP = "203.0.113.1"
GATEWAY_IP = "203.0.113.2"
FLOATING_IP = "203.0.113.10"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def _in(namespace: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return _run("ip", "netns", "exec", namespace, *argv)


def _pings(namespace: str, address: str, attempts: int = 3) -> bool:
    """Whether one of ``attempts`` pings is answered (2 s each: a loaded CI machine, its
    guests under TCG, may take more than one to forward a first packet)."""
    return any(
        _in(namespace, "busybox", "ping", "-c1", "-W2", address).returncode == 0
        for _ in range(attempts)
    )


def _ids() -> tuple[str, str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def lab() -> Iterator[dict[str, str]]:
    """A host namespace with a tenant and an external bridge; a guest namespace on the
    first (10.40.0.5, default route via the router's 10.40.0.1) and an upstream one on
    the second (203.0.113.1, no route back to the tenant network)."""
    tag = secrets.token_hex(4)
    names = {"host": f"l3h-{tag}", "guest": f"l3g-{tag}", "upstream": f"l3u-{tag}"}
    tenant, external, router = _ids()
    interface, gateway = str(uuid.uuid4()), str(uuid.uuid4())
    names |= {"tenant": tenant, "external": external, "router": router}
    names |= {"interface": interface, "gateway": gateway}
    for role in ("host", "guest", "upstream"):
        linux_net.ensure_namespace(names[role])
    try:
        for network, role, mac, cidr in (
            (tenant, "guest", "fa:16:3e:00:00:01", f"{GUEST_IP}/24"),
            (external, "upstream", "fa:16:3e:00:00:02", f"{UPSTREAM_IP}/24"),
        ):
            bridge = bridge_name(network)
            linux_net.ensure_bridge(bridge, 1500, names["host"])
            linux_net.plug_namespace_port(
                bridge, str(uuid.uuid4()), names[role], mac, [cidr], 1500, names["host"]
            )
        linux_net.set_default_route(names["guest"], "10.40.0.1")
        yield names
    finally:
        linux_net.delete_namespace(router_namespace(router))
        for role in ("guest", "upstream", "host"):
            linux_net.delete_namespace(names[role])


def _spec(lab: dict[str, str], floating: bool, snat: bool = True) -> RouterSpec:
    interface = RouterPort(
        lab["interface"], lab["tenant"], "fa:16:3e:aa:00:01", ("10.40.0.1/24",), 1500
    )
    gateway_cidrs = (f"{GATEWAY_IP}/24", *((f"{FLOATING_IP}/32",) if floating else ()))
    gateway = RouterPort(lab["gateway"], lab["external"], "fa:16:3e:aa:00:02", gateway_cidrs, 1500)
    return RouterSpec(
        id=lab["router"],
        interfaces=(interface,),
        gateway=gateway,
        next_hop=UPSTREAM_IP,
        enable_snat=snat,
        floating=(FloatingAddress(FLOATING_IP, GUEST_IP),) if floating else (),
    )


def test_nat_table_translates_floating_ips_before_the_gateway() -> None:
    lab = {"tenant": "t", "external": "e", "router": "r", "interface": "i", "gateway": "g-port"}
    spec = _spec(lab, floating=True)
    out = gateway_device("g-port")
    assert spec.nat_table().splitlines() == [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        f"-A PREROUTING -d {FLOATING_IP}/32 -j DNAT --to-destination {GUEST_IP}",
        f"-A OUTPUT -d {FLOATING_IP}/32 -j DNAT --to-destination {GUEST_IP}",
        f"-A POSTROUTING -s {GUEST_IP}/32 -o {out} -j SNAT --to-source {FLOATING_IP}",
        f"-A POSTROUTING -o {out} -j SNAT --to-source {GATEWAY_IP}",
        "COMMIT",
    ]
    assert "SNAT --to-source 203.0.113.2" not in _spec(lab, False, snat=False).nat_table()


async def test_snat_floating_ip_and_removal(lab: dict[str, str]) -> None:
    agent = L3Agent(netns=lab["host"])
    namespace = router_namespace(lab["router"])
    assert not _pings(lab["guest"], UPSTREAM_IP, 1)

    await agent.sync([_spec(lab, floating=False)])
    assert _pings(lab["guest"], UPSTREAM_IP), _in(namespace, "iptables-save").stdout
    assert not _pings(lab["upstream"], FLOATING_IP, 1)

    await agent.sync([_spec(lab, floating=True)])
    assert _pings(lab["upstream"], FLOATING_IP), _in(namespace, "iptables-save").stdout
    assert _pings(lab["guest"], UPSTREAM_IP), _in(namespace, "iptables-save").stdout

    await agent.sync([_spec(lab, floating=False, snat=False)])
    assert not _pings(lab["upstream"], FLOATING_IP, 1)
    assert not _pings(lab["guest"], UPSTREAM_IP, 1)

    await agent.sync([])
    assert not linux_net.namespace_exists(namespace)
    host_links = await asyncio.to_thread(linux_net.list_veths, "tap", lab["host"])
    assert devname(lab["interface"]) not in host_links and devname(lab["gateway"]) not in host_links
    assert len(host_links) == 2, host_links


async def test_specs_follow_the_api(runtime: Runtime, api: httpx.AsyncClient) -> None:
    """A host serves the routers of its guests' networks, with their interfaces, gateway,
    next hop and associated floating IPs."""
    neutron = Neutron(api)
    ext = await neutron.network(ADMIN, **{"router:external": True})
    await neutron.subnet(ext["id"], "203.0.113.0/24", ADMIN, enable_dhcp=False)
    net = await neutron.network()
    sub = await neutron.subnet(net["id"], "10.40.0.0/24")
    guest = await neutron.port(
        net["id"], ADMIN, project_id=net["project_id"], device_owner="compute:nova",
        device_id="vm", **{"binding:host_id": "host-a"},
    )  # fmt: skip
    router = await neutron.create("router", {"external_gateway_info": {"network_id": ext["id"]}})

    async def specs(host: str) -> list[RouterSpec]:
        async with runtime.db.write() as session:
            return await router_specs(session, [host])

    assert await specs("host-a") == []
    path = f"{V2}/routers/{router['id']}/add_router_interface"
    assert (await api.put(path, json={"subnet_id": sub["id"]}, headers=DEMO)).status_code == 200
    fip = await neutron.create(
        "floatingip", {"floating_network_id": ext["id"], "port_id": guest["id"]}
    )
    assert await specs("host-b") == []
    (spec,) = await specs("host-a")
    assert await specs("host-b") == []
    (gateway_ip,) = router_gateway_ips = [
        ip["ip_address"]
        for ip in (await api.get(f"{V2}/routers/{router['id']}", headers=DEMO)).json()["router"][
            "external_gateway_info"
        ]["external_fixed_ips"]
    ]
    assert router_gateway_ips and spec.gateway_address == gateway_ip
    assert [i.cidrs for i in spec.interfaces] == [("10.40.0.1/24",)]
    assert spec.gateway is not None and spec.gateway.network_id == ext["id"]
    assert set(spec.gateway.cidrs) == {f"{gateway_ip}/24", f"{fip['floating_ip_address']}/32"}
    assert spec.next_hop == "203.0.113.1" and spec.enable_snat
    assert spec.floating == (
        FloatingAddress(fip["floating_ip_address"], guest["fixed_ips"][0]["ip_address"]),
    )
