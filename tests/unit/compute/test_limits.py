"""``GET /limits``: configured defaults, per-project rows, and the fields each version shows."""

from __future__ import annotations

import httpx
import pytest

from cumulo.db.models.compute import Quota
from cumulo.runtime import Runtime
from tests.fakes import DEMO_PROJECT
from tests.unit.compute.conftest import ADMIN, DEMO, at, fault

LIMITS = "/compute/v2.1/limits"
USED = {
    "totalCoresUsed": 0,
    "totalInstancesUsed": 0,
    "totalRAMUsed": 0,
    "totalServerGroupsUsed": 0,
}


async def test_limits_at_21(api: httpx.AsyncClient) -> None:
    r = await api.get(LIMITS, headers=DEMO)
    assert r.status_code == 200
    assert r.json() == {
        "limits": {
            "rate": [],
            "absolute": {
                "maxTotalRAMSize": 51200,
                "maxTotalInstances": 10,
                "maxTotalCores": 20,
                "maxTotalKeypairs": 100,
                "maxTotalFloatingIps": -1,
                "maxServerMeta": 128,
                "maxImageMeta": 128,
                "maxPersonality": 5,
                "maxPersonalitySize": 10240,
                "maxSecurityGroups": -1,
                "maxSecurityGroupRules": -1,
                "maxServerGroups": 10,
                "maxServerGroupMembers": 10,
                "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0,
                **USED,
            },
        }
    }


@pytest.mark.parametrize(
    ("version", "gone"),
    [
        ("2.35", set()),
        ("2.36", {"maxTotalFloatingIps", "maxSecurityGroups", "maxSecurityGroupRules",
                  "totalFloatingIpsUsed", "totalSecurityGroupsUsed"}),
        ("2.39", {"maxTotalFloatingIps", "maxSecurityGroups", "maxSecurityGroupRules",
                  "totalFloatingIpsUsed", "totalSecurityGroupsUsed", "maxImageMeta"}),
        ("2.57", {"maxTotalFloatingIps", "maxSecurityGroups", "maxSecurityGroupRules",
                  "totalFloatingIpsUsed", "totalSecurityGroupsUsed", "maxImageMeta",
                  "maxPersonality", "maxPersonalitySize"}),
    ],
)  # fmt: skip
async def test_fields_leave_with_microversions(
    api: httpx.AsyncClient, version: str, gone: set[str]
) -> None:
    everything = set((await api.get(LIMITS, headers=DEMO)).json()["limits"]["absolute"])
    shown = set((await api.get(LIMITS, headers=at(version, DEMO))).json()["limits"]["absolute"])
    assert shown == everything - gone


async def test_settings_and_quota_rows(api: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.settings.compute.quota_cores = 64
    async with runtime.db.write() as session:
        session.add(Quota(project_id=DEMO_PROJECT, resource="instances", hard_limit=3))
        session.add(Quota(project_id="someone-else", resource="ram", hard_limit=1))
    absolute = (await api.get(LIMITS, headers=at("2.57", DEMO))).json()["limits"]["absolute"]
    assert (absolute["maxTotalCores"], absolute["maxTotalInstances"]) == (64, 3)
    assert absolute["maxTotalRAMSize"] == 51200


async def test_other_projects_for_admins_only(api: httpx.AsyncClient, runtime: Runtime) -> None:
    async with runtime.db.write() as session:
        session.add(Quota(project_id=DEMO_PROJECT, resource="cores", hard_limit=7))
    r = await api.get(f"{LIMITS}?tenant_id={DEMO_PROJECT}", headers=ADMIN)
    assert r.json()["limits"]["absolute"]["maxTotalCores"] == 7
    own = (await api.get(LIMITS, headers=ADMIN)).json()["limits"]["absolute"]
    assert own["maxTotalCores"] == 20
    r = await api.get(f"{LIMITS}?tenant_id={DEMO_PROJECT}", headers=DEMO)
    assert r.status_code == 403
    assert fault(r)["message"] == (
        "Policy doesn't allow compute:limits:other_project to be performed."
    )


async def test_unknown_parameters(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{LIMITS}?colour=red", headers=at("2.74", DEMO))).status_code == 200
    r = await api.get(f"{LIMITS}?colour=red", headers=at("2.75", DEMO))
    assert r.status_code == 400
