"""Networking with the unmodified openstack CLI against `cumulo up`: the admin's and the demo
project's networks, subnets, ports and security groups, and what each project may see."""

from __future__ import annotations

import pytest

from tests.functional.cloud import CLIError, Cloud

pytestmark = pytest.mark.cli
DEMO = "cumulo-demo"


def test_network_subnet_port_lifecycle(cloud: Cloud) -> None:
    net = cloud.osc("network", "create", "private-admin")
    subnet = cloud.osc(
        "subnet", "create", "--network", "private-admin", "--subnet-range", "10.0.0.0/24", "sub-a"
    )
    assert (subnet["network_id"], subnet["cidr"], subnet["gateway_ip"]) == (
        net["id"],
        "10.0.0.0/24",
        "10.0.0.1",
    )
    port = cloud.osc("port", "create", "--network", "private-admin", "port-a")
    [fixed] = port["fixed_ips"]
    assert fixed["subnet_id"] == subnet["id"] and fixed["ip_address"].startswith("10.0.0.")
    listed = {p["Name"]: p for p in cloud.osc("port", "list", "--network", "private-admin")}
    assert listed["port-a"]["ID"] == port["id"]
    shown = cloud.osc("port", "show", "port-a")
    assert (shown["mac_address"], shown["status"]) == (port["mac_address"], "DOWN")

    # Tenant isolation: the demo project sees neither the network nor the port.
    demo_nets = {n["Name"] for n in cloud.osc("network", "list", cloud=DEMO)}
    assert "private-admin" not in demo_nets
    with pytest.raises(CLIError) as err:
        cloud.osc("port", "show", port["id"], cloud=DEMO)
    assert "No Port found" in err.value.result.stderr or "404" in err.value.result.stderr

    cloud.osc("port", "delete", "port-a", as_json=False)
    assert "port-a" not in {p["Name"] for p in cloud.osc("port", "list")}


def test_security_group_and_rule(cloud: Cloud) -> None:
    group = cloud.osc("security", "group", "create", "web", cloud=DEMO)
    rule = cloud.osc(
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "web",
        cloud=DEMO,
    )
    assert rule["security_group_id"] == group["id"]
    assert (rule["protocol"], rule["port_range_min"], rule["port_range_max"]) == ("tcp", 22, 22)
    assert (rule["direction"], rule["ether_type"]) == ("ingress", "IPv4")
    rules = cloud.osc("security", "group", "rule", "list", "web", cloud=DEMO)
    assert rule["id"] in {r["ID"] for r in rules}
