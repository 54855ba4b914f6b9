"""Security groups and rules: the default group, rule creation as OSC sends it, errors."""

from __future__ import annotations

import asyncio

import httpx

from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron


async def _default(api: httpx.AsyncClient, headers: dict[str, str] = DEMO) -> dict:
    groups = (await api.get(f"{V2}/security-groups?name=default", headers=headers)).json()
    assert len(groups["security_groups"]) == 1
    return groups["security_groups"][0]


async def test_default_group_made_once_with_its_rules(api: httpx.AsyncClient) -> None:
    await asyncio.gather(*(api.get(f"{V2}/security-groups", headers=DEMO) for _ in range(5)))
    group = await _default(api)
    assert group["description"] == "Default security group"
    rules = {
        (r["direction"], r["ethertype"], r["remote_group_id"])
        for r in group["security_group_rules"]
    }
    assert rules == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", group["id"]),
        ("ingress", "IPv6", group["id"]),
    }
    resp = await api.delete(f"{V2}/security-groups/{group['id']}", headers=DEMO)
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["type"] == "SecurityGroupCannotRemoveDefault"


async def test_port_gets_default_group(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network()
    port = await neutron.port(net["id"])
    assert port["security_groups"] == [(await _default(api))["id"]]
    bare = await neutron.port(net["id"], port_security_enabled=False)
    assert bare["security_groups"] == []
    error = await neutron.create(
        "port",
        {
            "network_id": net["id"],
            "port_security_enabled": False,
            "security_groups": port["security_groups"],
        },
        code=400,
    )
    assert error["type"] == "PortSecurityAndIPRequiredForSecurityGroups"
    error = await neutron.create(
        "port", {"network_id": net["id"], "security_groups": ["nope"]}, code=404
    )
    assert error == {
        "type": "SecurityGroupNotFound",
        "message": "Security group nope does not exist",
        "detail": "",
    }


async def test_group_and_rule_lifecycle(api: httpx.AsyncClient, neutron: Neutron) -> None:
    group = await neutron.create("security_group", {"name": "web", "description": "w"})
    assert [r["direction"] for r in group["security_group_rules"]] == ["egress", "egress"]
    osc_rule = {
        "security_group_id": group["id"],
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0",
    }
    resp = await api.post(
        f"{V2}/security-group-rules", json={"security_group_rule": osc_rule}, headers=DEMO
    )
    assert resp.status_code == 201
    rule = resp.json()["security_group_rule"]
    assert rule["port_range_min"] == 22 and rule["protocol"] == "tcp"
    resp = await api.post(
        f"{V2}/security-group-rules", json={"security_group_rule": osc_rule}, headers=DEMO
    )
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["message"] == (
        f"Security group rule already exists. Rule id is {rule['id']}."
    )
    shown = (await api.get(f"{V2}/security-group-rules/{rule['id']}", headers=DEMO)).json()
    assert shown["security_group_rule"]["id"] == rule["id"]
    listed = (
        await api.get(f"{V2}/security-group-rules?security_group_id={group['id']}", headers=DEMO)
    ).json()["security_group_rules"]
    assert len(listed) == 3
    assert (
        await api.delete(f"{V2}/security-group-rules/{rule['id']}", headers=DEMO)
    ).status_code == 204
    resp = await api.get(f"{V2}/security-group-rules/{rule['id']}", headers=DEMO)
    assert resp.json()["NeutronError"]["type"] == "SecurityGroupRuleNotFound"
    resp = await api.put(
        f"{V2}/security-groups/{group['id']}",
        json={"security_group": {"name": "web2"}},
        headers=DEMO,
    )
    assert resp.json()["security_group"]["name"] == "web2"
    assert (
        await api.delete(f"{V2}/security-groups/{group['id']}", headers=DEMO)
    ).status_code == 204
    resp = await api.get(f"{V2}/security-groups/{group['id']}", headers=DEMO)
    assert resp.status_code == 404


async def test_bad_rules(api: httpx.AsyncClient, neutron: Neutron) -> None:
    group = await neutron.create("security_group", {"name": "g"})
    base = {"security_group_id": group["id"], "direction": "ingress"}
    cases = {
        "InvalidInput": [
            {"direction": "sideways"},
            {"ethertype": "IPv5"},
            {"remote_ip_prefix": "nonsense"},
        ],
        "SecurityGroupRuleInvalidProtocol": [{"protocol": "bogus"}],
        "SecurityGroupInvalidPortRange": [
            {"protocol": "tcp", "port_range_min": 30, "port_range_max": 20}
        ],
        "SecurityGroupRemoteGroupAndRemoteIpPrefix": [
            {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": group["id"]}
        ],
        "SecurityGroupRuleParameterConflict": [
            {"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}
        ],
    }
    for kind, variants in cases.items():
        for extra in variants:
            error = await neutron.create("security_group_rule", {**base, **extra}, code=400)
            assert error["type"] == kind, extra
    error = await neutron.create("security_group_rule", {**base, "remote_group_id": "x"}, code=404)
    assert error["type"] == "SecurityGroupNotFound"
    error = await neutron.create("security_group_rule", {"direction": "ingress"}, code=400)
    assert error["type"] == "InvalidInput"


async def test_group_in_use_and_isolation(api: httpx.AsyncClient, neutron: Neutron) -> None:
    group = await neutron.create("security_group", {"name": "g"})
    net = await neutron.network()
    port = await neutron.port(net["id"], security_groups=[group["id"]])
    resp = await api.delete(f"{V2}/security-groups/{group['id']}", headers=DEMO)
    assert resp.json()["NeutronError"]["type"] == "SecurityGroupInUse"
    resp = await api.get(
        f"{V2}/security-groups/{group['id']}", headers={"X-Auth-Token": "admin-token"}
    )
    assert resp.status_code == 200
    admin_group = await neutron.create("security_group", {"name": "a"}, ADMIN)
    resp = await api.get(f"{V2}/security-groups/{admin_group['id']}", headers=DEMO)
    assert resp.status_code == 404
    resp = await api.put(
        f"{V2}/ports/{port['id']}", json={"port": {"security_groups": []}}, headers=DEMO
    )
    assert resp.json()["port"]["security_groups"] == []
    assert (
        await api.delete(f"{V2}/security-groups/{group['id']}", headers=DEMO)
    ).status_code == 204


async def test_osc_rule_create_flow(api: httpx.AsyncClient) -> None:
    resp = await api.get(f"{V2}/security-groups/default", headers=DEMO)
    assert resp.status_code == 404
    group = await _default(api)
    rule = {
        "protocol": "tcp",
        "direction": "ingress",
        "security_group_id": group["id"],
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0",
        "ethertype": "IPv4",
    }
    resp = await api.post(
        f"{V2}/security-group-rules", json={"security_group_rule": rule}, headers=DEMO
    )
    assert resp.status_code == 201
    assert resp.json()["security_group_rule"]["remote_ip_prefix"] == "0.0.0.0/0"
