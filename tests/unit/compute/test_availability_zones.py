"""``/os-availability-zone``: the configured default zone."""

from __future__ import annotations

import httpx

from cumulo.runtime import Runtime
from tests.unit.compute.conftest import ADMIN, DEMO

ZONES = "/compute/v2.1/os-availability-zone"


async def test_everyone_sees_the_default_zone(api: httpx.AsyncClient, runtime: Runtime) -> None:
    r = await api.get(ZONES, headers=DEMO)
    assert r.status_code == 200
    assert r.json() == {
        "availabilityZoneInfo": [
            {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}
        ]
    }
    runtime.settings.compute.default_availability_zone = "zone-a"
    r = await api.get(ZONES, headers=DEMO)
    assert r.json()["availabilityZoneInfo"][0]["zoneName"] == "zone-a"


async def test_detail_is_for_admins(api: httpx.AsyncClient) -> None:
    r = await api.get(f"{ZONES}/detail", headers=ADMIN)
    assert r.status_code == 200
    assert r.json() == {
        "availabilityZoneInfo": [
            {"zoneName": "nova", "zoneState": {"available": True}, "hosts": {}}
        ]
    }
    assert (await api.get(f"{ZONES}/detail", headers=DEMO)).status_code == 403
