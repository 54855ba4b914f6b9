"""Volume types: Cinder's __DEFAULT__, show, and admin-only create and delete."""

from __future__ import annotations

import httpx

from cumulo.rpc import Bus
from tests.unit.volume.conftest import ADMIN_H, ADMIN_URL, DEMO_H, DEMO_URL, available_volume


async def test_default_type(api: httpx.AsyncClient) -> None:
    listed = (await api.get(f"{DEMO_URL}/types", headers=DEMO_H)).json()["volume_types"]
    assert [t["name"] for t in listed] == ["__DEFAULT__"]
    default = (await api.get(f"{DEMO_URL}/types/default", headers=DEMO_H)).json()["volume_type"]
    assert default == listed[0]
    assert default["description"] == "Default Volume Type" and default["is_public"] is True
    shown = await api.get(f"{DEMO_URL}/types/{default['id']}", headers=DEMO_H)
    assert shown.json()["volume_type"]["id"] == default["id"]
    missing = await api.get(f"{DEMO_URL}/types/nope", headers=DEMO_H)
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "Volume type nope could not be found."


async def test_admin_creates_and_deletes_types(api: httpx.AsyncClient, bus: Bus) -> None:
    body = {"volume_type": {"name": "gold", "description": "fast"}}
    assert (await api.post(f"{DEMO_URL}/types", json=body, headers=DEMO_H)).status_code == 403
    created = await api.post(f"{ADMIN_URL}/types", json=body, headers=ADMIN_H)
    assert created.status_code == 200
    gold = created.json()["volume_type"]
    assert (gold["name"], gold["extra_specs"]) == ("gold", {})
    duplicate = await api.post(f"{ADMIN_URL}/types", json=body, headers=ADMIN_H)
    assert duplicate.status_code == 409
    volume = await available_volume(api, volume_type="gold")
    assert volume["volume_type"] == "gold"
    quota = await api.get(f"{DEMO_URL}/os-quota-sets/{DEMO_URL.rsplit('/', 1)[1]}", headers=DEMO_H)
    assert quota.json()["quota_set"]["volumes_gold"] == -1
    in_use = await api.delete(f"{ADMIN_URL}/types/{gold['id']}", headers=ADMIN_H)
    assert in_use.status_code == 400
    await api.delete(f"{DEMO_URL}/volumes/{volume['id']}", headers=DEMO_H)
    default = (await api.get(f"{ADMIN_URL}/types/default", headers=ADMIN_H)).json()["volume_type"]
    refused = await api.delete(f"{ADMIN_URL}/types/{default['id']}", headers=ADMIN_H)
    assert refused.json()["badRequest"]["message"] == "Default volume type can not be deleted."
