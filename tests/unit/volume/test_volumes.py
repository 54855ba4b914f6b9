"""Volumes over HTTP: create, show, list, update, delete, actions, isolation, bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from cumulo.rpc import Bus
from cumulo.runtime import Runtime
from cumulo.volume import storage
from cumulo.volume.messages import BuildVolume, DestroyVolume
from tests.fakes import ADMIN, ADMIN_PROJECT, DEMO_PROJECT
from tests.unit.volume.conftest import (
    ADMIN_H,
    ADMIN_URL,
    DEMO_H,
    DEMO_URL,
    GiB,
    available_volume,
    create_volume,
    wait_for,
)

DETAIL_KEYS = {
    "id", "status", "size", "availability_zone", "created_at", "updated_at", "attachments",
    "name", "description", "volume_type", "snapshot_id", "source_volid", "metadata", "links",
    "user_id", "bootable", "encrypted", "replication_status", "consistencygroup_id",
    "multiattach", "group_id", "shared_targets", "service_uuid", "volume_type_id",
    "consumes_quota",
}  # fmt: skip
ADMIN_KEYS = {
    "os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host", "os-vol-mig-status-attr:migstat",
    "os-vol-mig-status-attr:name_id", "migration_status", "provider_id", "cluster_name",
}  # fmt: skip


async def _volume_files(runtime: Runtime) -> list[Path]:
    return await asyncio.to_thread(lambda: sorted(runtime.settings.volume_dir.glob("*")))


async def test_create_makes_a_sparse_qcow2_file(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    # What `openstack volume create --size 1 V` sends: every optional field null.
    body = {"size": 1, "name": "V", "snapshot_id": None, "availability_zone": None,
            "imageRef": None, "description": None, "backup_id": None, "source_volid": None,
            "metadata": None, "consistencygroup_id": None, "volume_type": None}  # fmt: skip
    resp = await api.post(f"{DEMO_URL}/volumes", json={"volume": body}, headers=DEMO_H)
    assert resp.status_code == 202, resp.text
    created = resp.json()["volume"]
    assert created["status"] == "creating"
    volume = await wait_for(api, created["id"], "available")
    assert set(volume) == DETAIL_KEYS
    assert (volume["name"], volume["size"], volume["bootable"]) == ("V", 1, "false")
    assert (volume["volume_type"], volume["availability_zone"]) == ("__DEFAULT__", "nova")
    assert volume["attachments"] == [] and volume["metadata"] == {}
    path = storage.volume_path(runtime.settings.volume_dir, volume["id"])
    assert await storage.virtual_size(path, "qcow2") == GiB
    assert (await asyncio.to_thread(path.stat)).st_size < 1 << 20


async def test_admin_sees_host_and_tenant_and_old_versions_show_less(
    api: httpx.AsyncClient, bus: Bus
) -> None:
    volume = await available_volume(api)
    resp = await api.get(f"{ADMIN_URL}/volumes/{volume['id']}", headers=ADMIN_H)
    shown = resp.json()["volume"]
    assert set(shown) == DETAIL_KEYS | ADMIN_KEYS
    assert shown["os-vol-tenant-attr:tenant_id"] == DEMO_PROJECT
    assert shown["os-vol-host-attr:host"].endswith("@file#file")
    old = await api.get(
        f"{DEMO_URL}/volumes/{volume['id']}", headers={"X-Auth-Token": "demo-token"}
    )
    assert old.headers["openstack-api-version"] == "volume 3.0"
    assert "volume_type_id" not in old.json()["volume"]
    assert "group_id" not in old.json()["volume"]


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (0, "Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1"),
        (-1, "Invalid input for field/attribute size. Value: -1. -1 is less than the minimum of 1"),
        ("abc", "Invalid input for field/attribute size. Value: abc. "
                "'abc' does not match '^[0-9]+$'"),
        (1.5, "Invalid input for field/attribute size. Value: 1.5. "
              "1.5 is not of type 'integer', 'string', 'null'"),
        (None, "Invalid input received: Volume size 'None' must be an integer and greater than 0"),
    ],
)  # fmt: skip
async def test_bad_size_is_refused_and_nothing_is_written(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime, size: object, message: str
) -> None:
    resp = await api.post(f"{DEMO_URL}/volumes", json={"volume": {"size": size}}, headers=DEMO_H)
    assert resp.status_code == 400
    assert resp.json() == {"badRequest": {"code": 400, "message": message}}
    listed = await api.get(f"{DEMO_URL}/volumes", headers=DEMO_H)
    assert listed.json()["volumes"] == []
    assert await _volume_files(runtime) == []


async def test_bad_bodies(api: httpx.AsyncClient, bus: Bus) -> None:
    cases = [
        ({"size": 1, "volume_type": "gold"}, 404,
         "Volume type with name gold could not be found."),
        ({"size": 1, "availability_zone": "mars"}, 400, "Availability zone 'mars' is invalid."),
        ({"size": 1, "imageRef": "no-such-image"}, 400,
         "Invalid image identifier or unable to access requested image."),
        ({"size": 1, "metadata": {"k": 1}}, 400,
         "Invalid input for field/attribute metadata. Value: 1. 1 is not of type 'string'"),
        ({"size": 1, "name": 5}, 400,
         "Invalid input for field/attribute name. Value: 5. 5 is not of type 'string', 'null'"),
        ({"size": 1, "snapshot_id": "0b6bc6e2-5d55-4c50-8d7c-3f0a8c4f2a11"}, 400,
         "Invalid input received: Creating a volume from snapshot_id is not supported by this "
         "cloud."),
    ]  # fmt: skip
    for body, status, message in cases:
        resp = await api.post(f"{DEMO_URL}/volumes", json={"volume": body}, headers=DEMO_H)
        assert resp.status_code == status, body
        assert next(iter(resp.json().values()))["message"] == message
    resp = await api.post(f"{DEMO_URL}/volumes", json={"size": 1}, headers=DEMO_H)
    assert resp.status_code == 400
    listed = await api.get(f"{DEMO_URL}/volumes", headers=DEMO_H)
    assert listed.json()["volumes"] == []


async def test_another_projects_volume_is_not_found(api: httpx.AsyncClient, bus: Bus) -> None:
    mine = await available_volume(api)
    theirs = await create_volume(api, url=ADMIN_URL, headers=ADMIN_H, name="admin-vol")
    await wait_for(api, theirs["id"], "available", url=ADMIN_URL, headers=ADMIN_H)
    for method in ("GET", "PUT", "DELETE"):
        resp = await api.request(
            method, f"{DEMO_URL}/volumes/{theirs['id']}", headers=DEMO_H,
            json={"volume": {"name": "x"}} if method == "PUT" else None,
        )  # fmt: skip
        assert resp.status_code == 404, method
        assert (
            resp.json()["itemNotFound"]["message"] == f"Volume {theirs['id']} could not be found."
        )
    action = await api.post(
        f"{DEMO_URL}/volumes/{theirs['id']}/action", json={"os-extend": {"new_size": 2}},
        headers=DEMO_H,
    )  # fmt: skip
    assert action.status_code == 404
    listed = await api.get(f"{DEMO_URL}/volumes/detail?all_tenants=1", headers=DEMO_H)
    assert [v["id"] for v in listed.json()["volumes"]] == [mine["id"]]
    everything = await api.get(f"{ADMIN_URL}/volumes/detail?all_tenants=1", headers=ADMIN_H)
    assert {v["id"] for v in everything.json()["volumes"]} == {mine["id"], theirs["id"]}
    only = await api.get(
        f"{ADMIN_URL}/volumes?all_tenants=1&project_id={ADMIN_PROJECT}", headers=ADMIN_H
    )
    assert [v["id"] for v in only.json()["volumes"]] == [theirs["id"]]
    other_url = await api.get(f"{ADMIN_URL}/volumes", headers=DEMO_H)
    assert other_url.status_code == 403


async def test_list_filters_sort_and_pages(api: httpx.AsyncClient, bus: Bus) -> None:
    ids = []
    for i in range(3):
        volume = await available_volume(api, name=f"v{i}", metadata={"tier": str(i % 2)})
        ids.append(volume["id"])
    by_name = await api.get(f"{DEMO_URL}/volumes/detail?name=v1", headers=DEMO_H)
    assert [v["id"] for v in by_name.json()["volumes"]] == [ids[1]]
    by_meta = await api.get(
        f"{DEMO_URL}/volumes/detail", params={"metadata": '{"tier": "0"}'}, headers=DEMO_H
    )
    assert {v["id"] for v in by_meta.json()["volumes"]} == {ids[0], ids[2]}
    by_status = await api.get(f"{DEMO_URL}/volumes?status=error", headers=DEMO_H)
    assert by_status.json()["volumes"] == []
    not_bootable = await api.get(f"{DEMO_URL}/volumes?bootable=false", headers=DEMO_H)
    assert len(not_bootable.json()["volumes"]) == 3
    first = await api.get(f"{DEMO_URL}/volumes?limit=2&sort=name:asc", headers=DEMO_H)
    page = first.json()
    assert [v["name"] for v in page["volumes"]] == ["v0", "v1"]
    link = page["volumes_links"][0]
    assert link["rel"] == "next" and f"marker={ids[1]}" in link["href"]
    second = await api.get(
        f"{DEMO_URL}/volumes?limit=2&sort=name:asc&marker={ids[1]}", headers=DEMO_H
    )
    assert [v["name"] for v in second.json()["volumes"]] == ["v2"]
    assert "volumes_links" not in second.json()
    counted = await api.get(f"{DEMO_URL}/volumes?with_count=true&limit=1", headers=DEMO_H)
    assert counted.json()["count"] == 3
    bad_marker = await api.get(f"{DEMO_URL}/volumes?marker=nope", headers=DEMO_H)
    assert bad_marker.status_code == 404
    bad_sort = await api.get(f"{DEMO_URL}/volumes?sort=colour:asc", headers=DEMO_H)
    assert bad_sort.status_code == 400


async def test_update_name_description_metadata(api: httpx.AsyncClient, bus: Bus) -> None:
    volume = await available_volume(api, name="old")
    body = {"volume": {"name": "new", "description": "d", "metadata": {"a": "b"}}}
    resp = await api.put(f"{DEMO_URL}/volumes/{volume['id']}", json=body, headers=DEMO_H)
    assert resp.status_code == 200
    shown = resp.json()["volume"]
    assert (shown["name"], shown["description"], shown["metadata"]) == ("new", "d", {"a": "b"})


async def test_delete_removes_row_and_file(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    volume = await available_volume(api)
    resp = await api.delete(f"{DEMO_URL}/volumes/{volume['id']}", headers=DEMO_H)
    assert resp.status_code == 202
    await wait_for(api, volume["id"], "gone")
    assert await _volume_files(runtime) == []
    # A redelivered delete finds nothing to do.
    await bus.cast("volume", DestroyVolume(volume_id=volume["id"]), ADMIN)
    again = await api.delete(f"{DEMO_URL}/volumes/{volume['id']}", headers=DEMO_H)
    assert again.status_code == 404


async def test_delete_refused_while_busy_or_attached(api: httpx.AsyncClient, bus: Bus) -> None:
    refused = (
        "Invalid volume: Volume status must be available or error or error_restoring or "
        "error_extending or error_managing and must not be migrating, attached, belong to a "
        "group, have snapshots, awaiting a transfer, or be disassociated from snapshots after "
        "volume transfer."
    )
    volume = await available_volume(api)
    for status in ("creating", "in-use", "extending", "deleting"):
        reset = await api.post(
            f"{ADMIN_URL}/volumes/{volume['id']}/action",
            json={"os-reset_status": {"status": status}}, headers=ADMIN_H,
        )  # fmt: skip
        assert reset.status_code == 202
        resp = await api.delete(f"{DEMO_URL}/volumes/{volume['id']}", headers=DEMO_H)
        assert resp.status_code == 400, status
        assert resp.json()["badRequest"]["message"] == refused
    await api.post(
        f"{ADMIN_URL}/volumes/{volume['id']}/action",
        json={"os-reset_status": {"status": "available"}}, headers=ADMIN_H,
    )  # fmt: skip
    attach = await api.post(
        f"{DEMO_URL}/attachments",
        json={"attachment": {"volume_uuid": volume["id"], "instance_uuid": "i-1"}},
        headers=DEMO_H,
    )
    assert attach.status_code == 200
    resp = await api.delete(f"{DEMO_URL}/volumes/{volume['id']}", headers=DEMO_H)
    assert resp.status_code == 400


async def test_extend(api: httpx.AsyncClient, bus: Bus, runtime: Runtime) -> None:
    volume = await available_volume(api)
    url = f"{DEMO_URL}/volumes/{volume['id']}/action"
    same = await api.post(url, json={"os-extend": {"new_size": 1}}, headers=DEMO_H)
    assert same.status_code == 400
    assert same.json()["badRequest"]["message"] == (
        "Invalid input received: New size for extend must be greater than current size. "
        "(current: 1, extended: 1)."
    )
    bad = await api.post(url, json={"os-extend": {"new_size": "x"}}, headers=DEMO_H)
    assert bad.status_code == 400
    ok = await api.post(url, json={"os-extend": {"new_size": 3}}, headers=DEMO_H)
    assert ok.status_code == 202
    extended = await wait_for(api, volume["id"], "available")
    assert extended["size"] == 3
    path = storage.volume_path(runtime.settings.volume_dir, volume["id"])
    assert await storage.virtual_size(path, "qcow2") == 3 * GiB
    await api.post(
        f"{ADMIN_URL}/volumes/{volume['id']}/action",
        json={"os-reset_status": {"status": "error"}}, headers=ADMIN_H,
    )  # fmt: skip
    busy = await api.post(url, json={"os-extend": {"new_size": 4}}, headers=DEMO_H)
    assert busy.status_code == 400
    assert busy.json()["badRequest"]["message"] == (
        f"Invalid volume: Volume {volume['id']} status must be available to extend, but "
        "current status is: error."
    )


async def test_other_actions(api: httpx.AsyncClient, bus: Bus) -> None:
    volume = await available_volume(api)
    url = f"{DEMO_URL}/volumes/{volume['id']}/action"
    boot = await api.post(url, json={"os-set_bootable": {"bootable": True}}, headers=DEMO_H)
    assert boot.status_code == 200
    assert (await wait_for(api, volume["id"], "available"))["bootable"] == "true"
    bad_boot = await api.post(url, json={"os-set_bootable": {"bootable": "maybe"}}, headers=DEMO_H)
    assert bad_boot.status_code == 400
    ro = await api.post(url, json={"os-update_readonly_flag": {"readonly": True}}, headers=DEMO_H)
    assert ro.status_code == 202
    reset = await api.post(url, json={"os-reset_status": {"status": "error"}}, headers=DEMO_H)
    assert reset.status_code == 403
    bad_reset = await api.post(
        url.replace(DEMO_URL, ADMIN_URL), json={"os-reset_status": {"status": "lost"}},
        headers=ADMIN_H,
    )  # fmt: skip
    assert bad_reset.status_code == 400
    unknown = await api.post(url, json={"os-fly": {}}, headers=DEMO_H)
    assert unknown.status_code == 400
    assert unknown.json()["badRequest"]["message"] == "There is no such action: os-fly"


async def test_failed_build_leaves_error_and_no_file(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    # A file where the volume directory should be: qemu-img cannot create the volume.
    blocker = runtime.settings.volume_dir
    await asyncio.to_thread(blocker.write_bytes, b"")
    volume = await create_volume(api)
    failed = await wait_for(api, volume["id"], "error")
    assert failed["size"] == 1
    await asyncio.to_thread(blocker.unlink)
    await asyncio.to_thread(blocker.mkdir)
    assert await _volume_files(runtime) == []
    # An error volume can be deleted.
    resp = await api.delete(f"{DEMO_URL}/volumes/{volume['id']}", headers=DEMO_H)
    assert resp.status_code == 202
    await wait_for(api, volume["id"], "gone")


async def test_redelivered_build_changes_nothing(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    volume = await available_volume(api)
    path = storage.volume_path(runtime.settings.volume_dir, volume["id"])
    before = (await asyncio.to_thread(path.stat)).st_mtime_ns
    await bus.cast("volume", BuildVolume(volume_id=volume["id"]), ADMIN)
    await bus.cast("volume", BuildVolume(volume_id="no-such-volume"), ADMIN)
    await asyncio.sleep(0.1)
    assert (await wait_for(api, volume["id"], "available"))["updated_at"] == volume["updated_at"]
    assert (await asyncio.to_thread(path.stat)).st_mtime_ns == before


async def test_availability_zones(api: httpx.AsyncClient) -> None:
    resp = await api.get(f"{DEMO_URL}/os-availability-zone", headers=DEMO_H)
    assert resp.json() == {
        "availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}}]
    }


async def test_unknown_filters_are_refused_from_333_for_non_admins(
    api: httpx.AsyncClient, bus: Bus
) -> None:
    await available_volume(api, name="sized", size=2)
    by_size = await api.get(f"{DEMO_URL}/volumes?size=2", headers=DEMO_H)
    assert [v["name"] for v in by_size.json()["volumes"]] == ["sized"]
    old = {**DEMO_H, "OpenStack-API-Version": "volume 3.32"}
    assert (await api.get(f"{DEMO_URL}/volumes?colour=red", headers=old)).status_code == 200
    refused = await api.get(f"{DEMO_URL}/volumes?colour=red&group_id=x", headers=DEMO_H)
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"] == (
        "Invalid input received: Invalid filters colour,group_id are found in query options."
    )
    admin = await api.get(f"{ADMIN_URL}/volumes?colour=red", headers=ADMIN_H)
    assert admin.status_code == 200
