"""Network quotas: defaults from settings, admin updates, usage, policy, strictness."""

from __future__ import annotations

import asyncio

import httpx

from cumulo.config import NetworkSettings
from cumulo.runtime import Runtime
from tests.fakes import ADMIN_PROJECT, DEMO_PROJECT
from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron


async def test_show_defaults_and_usage(api: httpx.AsyncClient, neutron: Neutron) -> None:
    quota = (await api.get(f"{V2}/quotas/{DEMO_PROJECT}", headers=DEMO)).json()["quota"]
    assert quota["network"] == 100 and quota["port"] == 500 and quota["security_group"] == 10
    await neutron.network()
    details = (await api.get(f"{V2}/quotas/{DEMO_PROJECT}/details", headers=DEMO)).json()
    assert details["quota"]["network"] == {"limit": 100, "used": 1, "reserved": 0}
    default = (await api.get(f"{V2}/quotas/{DEMO_PROJECT}/default", headers=DEMO)).json()
    assert default["quota"]["subnet"] == 100


async def test_admin_updates_and_resets(api: httpx.AsyncClient) -> None:
    url = f"{V2}/quotas/{DEMO_PROJECT}"
    resp = await api.put(url, json={"quota": {"network": 5, "port": "7"}}, headers=ADMIN)
    assert resp.status_code == 200
    assert resp.json()["quota"]["network"] == 5 and resp.json()["quota"]["port"] == 7
    resp = await api.put(url, json={"quota": {"network": 6}}, headers=ADMIN)
    assert (await api.get(url, headers=DEMO)).json()["quota"]["network"] == 6
    listed = (await api.get(f"{V2}/quotas", headers=ADMIN)).json()["quotas"]
    assert [q["project_id"] for q in listed] == [DEMO_PROJECT]
    assert (await api.delete(url, headers=ADMIN)).status_code == 204
    assert (await api.get(url, headers=DEMO)).json()["quota"]["network"] == 100


async def test_quota_errors(api: httpx.AsyncClient) -> None:
    url = f"{V2}/quotas/{DEMO_PROJECT}"
    assert (await api.put(url, json={"quota": {"network": 1}}, headers=DEMO)).status_code == 403
    assert (await api.get(f"{V2}/quotas/{ADMIN_PROJECT}", headers=DEMO)).status_code == 403
    assert (await api.get(f"{V2}/quotas", headers=DEMO)).status_code == 403
    for body in (
        {"quota": {"bogus": 1}},
        {"quota": {"network": -2}},
        {"quota": {"network": "x"}},
        {"quota": {"network": True}},
        {"nope": {}},
    ):
        resp = await api.put(url, json=body, headers=ADMIN)
        assert resp.status_code == 400, body


async def test_creates_refused_over_quota(api: httpx.AsyncClient, neutron: Neutron) -> None:
    net = await neutron.network()
    await neutron.subnet(net["id"], "10.0.0.0/24")
    group = await neutron.create("security_group", {"name": "g"})
    limits = {"network": 1, "subnet": 1, "port": 0, "security_group": 2, "security_group_rule": 0}
    resp = await api.put(f"{V2}/quotas/{DEMO_PROJECT}", json={"quota": limits}, headers=ADMIN)
    assert resp.status_code == 200
    attempts = {
        "network": {"name": "n"},
        "subnet": {"network_id": net["id"], "cidr": "10.1.0.0/24"},
        "port": {"network_id": net["id"]},
        "security_group": {"name": "h"},
        "security_group_rule": {"security_group_id": group["id"], "direction": "ingress"},
    }
    for kind, body in attempts.items():
        error = await neutron.create(kind, body, code=409)
        assert error == {
            "type": "OverQuota",
            "message": f"Quota exceeded for resources: ['{kind}'].",
            "detail": "",
        }


async def test_defaults_come_from_settings(
    api: httpx.AsyncClient, neutron: Neutron, runtime: Runtime
) -> None:
    network = NetworkSettings(quota_port=1, quota_network=7, quota_security_group=3)
    runtime.settings = runtime.settings.model_copy(update={"network": network})
    for path in (f"{DEMO_PROJECT}", f"{DEMO_PROJECT}/default"):
        quota = (await api.get(f"{V2}/quotas/{path}", headers=DEMO)).json()["quota"]
        assert (quota["port"], quota["network"], quota["security_group"]) == (1, 7, 3)
        assert quota["subnet"] == 100 and quota["subnetpool"] == -1
    net = await neutron.network()
    await neutron.port(net["id"])
    error = await neutron.create("port", {"network_id": net["id"]}, code=409)
    assert error["type"] == "OverQuota"


async def test_port_quota_is_strict_under_concurrent_creates(
    engine_api: httpx.AsyncClient,
) -> None:
    neutron = Neutron(engine_api)
    net = await neutron.network()
    await neutron.subnet(net["id"], "10.0.0.0/24")
    limit = {"quota": {"port": 5}}
    resp = await engine_api.put(f"{V2}/quotas/{DEMO_PROJECT}", json=limit, headers=ADMIN)
    assert resp.status_code == 200

    async def create() -> httpx.Response:
        body = {"port": {"network_id": net["id"]}}
        return await engine_api.post(f"{V2}/ports", json=body, headers=DEMO)

    responses = await asyncio.gather(*(create() for _ in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [409] * 15
    assert {r.json()["NeutronError"]["type"] for r in responses if r.status_code == 409} == {
        "OverQuota"
    }
    listed = (await engine_api.get(f"{V2}/ports", headers=DEMO)).json()["ports"]
    assert len(listed) == 5
