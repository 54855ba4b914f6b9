"""Attachments over HTTP (3.27+), as Nova drives them: reserve, connect, complete, delete."""

from __future__ import annotations

import httpx

from cumulo.rpc import Bus
from cumulo.runtime import Runtime
from cumulo.volume import storage
from tests.unit.volume.conftest import (
    ADMIN_H,
    ADMIN_URL,
    DEMO_H,
    DEMO_URL,
    available_volume,
    wait_for,
)

CONNECTOR = {
    "host": "compute-1",
    "platform": "x86_64",
    "os_type": "linux",
    "mountpoint": "/dev/vdb",
}


async def _reserve(api: httpx.AsyncClient, volume_id: str, **extra: object) -> httpx.Response:
    body = {"attachment": {"volume_uuid": volume_id, "instance_uuid": "srv-1", **extra}}
    return await api.post(f"{DEMO_URL}/attachments", json=body, headers=DEMO_H)


async def test_attach_flow(api: httpx.AsyncClient, bus: Bus, runtime: Runtime) -> None:
    volume = await available_volume(api)
    created = await _reserve(api, volume["id"])
    assert created.status_code == 200, created.text
    attachment = created.json()["attachment"]
    assert (attachment["status"], attachment["instance"]) == ("reserved", "srv-1")
    assert attachment["connection_info"] is None
    assert (await wait_for(api, volume["id"], "reserved"))["attachments"] == []
    url = f"{DEMO_URL}/attachments/{attachment['id']}"
    early = await api.post(f"{url}/action", json={"os-complete": {}}, headers=DEMO_H)
    assert early.status_code == 400
    updated = await api.put(url, json={"attachment": {"connector": CONNECTOR}}, headers=DEMO_H)
    assert updated.status_code == 200
    info = updated.json()["attachment"]["connection_info"]
    path = storage.volume_path(runtime.settings.volume_dir, volume["id"])
    assert info["driver_volume_type"] == "file"
    assert (info["data"]["device_path"], info["data"]["format"]) == (str(path), "qcow2")
    await wait_for(api, volume["id"], "attaching")
    done = await api.post(f"{url}/action", json={"os-complete": {}}, headers=DEMO_H)
    assert done.status_code == 204
    in_use = await wait_for(api, volume["id"], "in-use")
    [shown] = in_use["attachments"]
    assert (shown["attachment_id"], shown["server_id"], shown["device"]) == (
        attachment["id"], "srv-1", "/dev/vdb",
    )  # fmt: skip
    assert shown["host_name"] is None  # only admins see the host
    listed = await api.get(f"{DEMO_URL}/attachments/detail", headers=DEMO_H)
    assert [a["status"] for a in listed.json()["attachments"]] == ["attached"]
    again = await _reserve(api, volume["id"])
    assert again.status_code == 400
    assert again.json()["badRequest"]["message"] == (
        f"Invalid volume: Volume {volume['id']} status must be available or downloading"
    )
    gone = await api.delete(url, headers=DEMO_H)
    assert gone.status_code == 200 and gone.json() == {"attachments": []}
    free = await wait_for(api, volume["id"], "available")
    assert free["attachments"] == []
    assert (await api.get(url, headers=DEMO_H)).status_code == 404


async def test_create_with_connector_connects_at_once(api: httpx.AsyncClient, bus: Bus) -> None:
    volume = await available_volume(api)
    created = await _reserve(api, volume["id"], connector=CONNECTOR, mode="ro")
    attachment = created.json()["attachment"]
    assert attachment["status"] == "attaching" and attachment["attach_mode"] == "ro"
    assert attachment["connection_info"]["data"]["access_mode"] == "ro"
    await wait_for(api, volume["id"], "attaching")
    deleted = await api.delete(f"{DEMO_URL}/attachments/{attachment['id']}", headers=DEMO_H)
    assert deleted.status_code == 200
    await wait_for(api, volume["id"], "available")


async def test_bad_requests_versions_and_isolation(api: httpx.AsyncClient, bus: Bus) -> None:
    volume = await available_volume(api)
    missing = await api.post(
        f"{DEMO_URL}/attachments", json={"attachment": {"volume_uuid": volume["id"]}},
        headers=DEMO_H,
    )  # fmt: skip
    assert missing.json()["badRequest"]["message"] == (
        "Must specify 'instance_uuid' to create attachment."
    )
    unknown = await _reserve(api, "00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404
    old = await api.get(f"{DEMO_URL}/attachments", headers={"X-Auth-Token": "demo-token"})
    assert old.status_code == 404
    theirs = await available_volume_of_admin(api)
    refused = await _reserve(api, theirs)
    assert refused.status_code == 404
    admins = await api.post(
        f"{ADMIN_URL}/attachments",
        json={"attachment": {"volume_uuid": theirs, "instance_uuid": "srv-2"}}, headers=ADMIN_H,
    )  # fmt: skip
    attachment_id = admins.json()["attachment"]["id"]
    for method in ("GET", "DELETE"):
        resp = await api.request(method, f"{DEMO_URL}/attachments/{attachment_id}", headers=DEMO_H)
        assert resp.status_code == 404
    no_connector = await api.put(
        f"{ADMIN_URL}/attachments/{attachment_id}", json={"attachment": {}}, headers=ADMIN_H
    )
    assert no_connector.json()["badRequest"]["message"] == (
        "Must specify 'connector' to update attachment."
    )
    mine = await api.get(f"{DEMO_URL}/attachments", headers=DEMO_H)
    assert mine.json()["attachments"] == []
    everyone = await api.get(f"{ADMIN_URL}/attachments?all_tenants=1", headers=ADMIN_H)
    assert [a["id"] for a in everyone.json()["attachments"]] == [attachment_id]


async def available_volume_of_admin(api: httpx.AsyncClient) -> str:
    resp = await api.post(f"{ADMIN_URL}/volumes", json={"volume": {"size": 1}}, headers=ADMIN_H)
    volume_id = str(resp.json()["volume"]["id"])
    await wait_for(api, volume_id, "available", url=ADMIN_URL, headers=ADMIN_H)
    return volume_id
