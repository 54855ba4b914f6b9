"""Routers with real guests and the unmodified openstack CLI: a guest behind a router
reaches the outside through SNAT, and the outside reaches the guest at its floating IP
(which ``server show`` lists among its addresses) until the floating IP is removed again.

"The outside" is a namespace of the test's own on the external network's bridge, holding
the external subnet's gateway address (203.0.113.1) and no route back to the guests'
network: a guest's packets can only come back to it once translated.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from cumulo.network.agent import linux_net
from cumulo.network.agent.dhcp_view import dhcp_namespace
from cumulo.network.agent.l3_agent import router_namespace
from cumulo.network.model import bridge_name
from tests.functional.cloud import Cloud
from tests.functional.guests import (
    DEMO,
    console_until,
    create_server,
    fixed_ip,
    guest_cloud,
    network_id,
    ssh_from,
)
from tests.guest_image import built_guest_image

pytestmark = pytest.mark.cli

UPSTREAM = "203.0.113.1"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with guest_cloud(tmp_path_factory, "cumulo-routers") as c:
        c.osc(
            "network", "create", "--external", "--provider-network-type", "flat",
            "--provider-physical-network", "public", "public",
        )  # fmt: skip
        c.osc(
            "subnet", "create", "--network", "public", "--subnet-range", "203.0.113.0/24",
            "--no-dhcp", "public-sub",
        )  # fmt: skip
        yield c


@pytest.fixture
def upstream(cloud: Cloud) -> Iterator[str]:
    """The outside: a namespace on the external network's bridge at 203.0.113.1."""
    namespace = f"up-{secrets.token_hex(4)}"
    bridge = bridge_name(network_id(cloud, "public"))
    linux_net.ensure_bridge(bridge, 1500)
    port = str(uuid.uuid4())
    linux_net.plug_namespace_port(
        bridge, port, namespace, "fa:16:3e:7e:57:01", [f"{UPSTREAM}/24"], 1500
    )
    try:
        yield namespace
    finally:
        linux_net.unplug_namespace_port(port)
        linux_net.delete_namespace(namespace)


def _reaches_ssh(namespace: str, address: str) -> bool:
    """Whether dropbear's banner at ``address`` comes back to ``namespace``."""
    probe = subprocess.run(
        ["ip", "netns", "exec", namespace, "busybox", "nc", "-w", "3", address, "22"],
        input="", capture_output=True, text=True, errors="replace", timeout=30, check=False,
    )  # fmt: skip
    return "SSH-2.0" in probe.stdout


def test_snat_out_and_a_floating_ip_in(cloud: Cloud, upstream: str) -> None:
    cloud.osc("security", "group", "create", "reachable", cloud=DEMO)
    for protocol, port in (("tcp", ("--dst-port", "22")), ("icmp", ())):
        cloud.osc(
            "security", "group", "rule", "create", "--protocol", protocol, *port,
            "reachable", cloud=DEMO,
        )  # fmt: skip
    router = cloud.osc("router", "create", "r1", cloud=DEMO)
    cloud.osc("router", "add", "subnet", "r1", "guest-sub", cloud=DEMO, as_json=False)
    cloud.osc("router", "set", "--external-gateway", "public", "r1", cloud=DEMO, as_json=False)
    server = create_server(cloud, "vm-routed", "--image", "guest", "--security-group", "reachable")
    address = fixed_ip(server)
    console_until(cloud, "vm-routed", f"cumulo-guest: ip {address}", built_guest_image().marker)
    assert linux_net.namespace_exists(router_namespace(str(router["id"])))
    inside = dhcp_namespace(network_id(cloud))

    out = ssh_from(inside, cloud, address, f"ping -c 2 -W 2 {UPSTREAM} && echo reached")
    assert "reached" in out, out

    fip = cloud.osc("floating", "ip", "create", "public", cloud=DEMO)
    floating = str(fip["floating_ip_address"])
    assert not _reaches_ssh(upstream, floating)
    cloud.osc("server", "add", "floating", "ip", "vm-routed", floating, cloud=DEMO, as_json=False)
    shown = cloud.osc("floating", "ip", "show", floating, cloud=DEMO)
    assert shown["fixed_ip_address"] == address and shown["status"] == "ACTIVE"
    listed = cloud.osc("server", "show", "vm-routed", cloud=DEMO)["addresses"]
    assert listed == {"guest-net": [address, floating]}, listed
    assert _until_reachable(upstream, floating, True)
    assert "vm-routed" in ssh_from(upstream, cloud, floating, "hostname")

    cloud.osc(
        "server", "remove", "floating", "ip", "vm-routed", floating, cloud=DEMO, as_json=False
    )
    assert _until_reachable(upstream, floating, False)
    listed = cloud.osc("server", "show", "vm-routed", cloud=DEMO)["addresses"]
    assert listed == {"guest-net": [address]}, listed

    cloud.osc("server", "delete", "--wait", "vm-routed", cloud=DEMO, as_json=False)
    cloud.osc("floating", "ip", "delete", floating, cloud=DEMO, as_json=False)
    cloud.osc("router", "remove", "subnet", "r1", "guest-sub", cloud=DEMO, as_json=False)
    cloud.osc("router", "delete", "r1", cloud=DEMO, as_json=False)
    assert cloud.osc("floating", "ip", "list", cloud=DEMO) == []


def _until_reachable(namespace: str, address: str, wanted: bool, attempts: int = 10) -> bool:
    return any(_reaches_ssh(namespace, address) == wanted for _ in range(attempts))
