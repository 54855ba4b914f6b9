"""Server bodies at 2.1, 2.47 and 2.100 (and the versions between), for admins and members."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from cumulo.db.base import utcnow
from cumulo.db.models.hosts import ComputeService
from cumulo.db.models.instances import (
    BlockDeviceMapping,
    InstanceFault,
    InstanceTag,
    RequestSpecRecord,
    ServerGroup,
    ServerGroupMember,
)
from cumulo.runtime import Runtime
from tests import compute_rows
from tests.fakes import DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import ADMIN, DEMO, at
from tests.unit.compute.servers.conftest import BASE, SERVERS, add, at_time, vif

SERVER = "5e1b2d6c-0b8f-4c55-9c3e-3f1a8f0c0001"
IMAGE = "9a0c3b7e-6d51-4f0e-a0a4-7f3b0d1e2222"
VOLUME = "c0ffee00-1111-4222-8333-444455556666"
GROUP = "6f0e4a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
HINTED = "48e6a9f6-30af-47e0-bc04-acaed113bb4e"
MAC, MAC2 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"
FLAVOR = {**compute_rows.TINY_FLAVOR, "extra_specs": {"hw:cpu_policy": "shared"}}


def links(collection: str, ident: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{BASE}/v2.1/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{BASE}/{collection}/{ident}"},
    ]


@pytest.fixture
async def server(runtime: Runtime) -> None:
    """An ACTIVE server of the demo project with two networks, a volume, tags and a group."""
    network = [
        vif("private", MAC, ("10.0.0.5", 4), ("fd00::5", 6), floating=("172.24.4.10",)),
        vif("public", MAC2, ("203.0.113.9", 4)),
    ]
    instance = compute_rows.instance(
        DEMO_PROJECT,
        DEMO_USER,
        uuid=SERVER,
        display_name="web",
        hostname="web-1",
        reservation_id="r-abcdefgh",
        image_ref=IMAGE,
        flavor=FLAVOR,
        meta={"role": "web"},
        key_name="mykey",
        config_drive="True",
        security_groups=["default", "web", "default"],
        network_info=network,
        system_metadata={"image_os_distro": "cirros", "image_min_ram": "0", "clean": "x"},
        created_at=at_time(4, 5),
        updated_at=at_time(5, 6),
        launched_at=datetime.datetime(2024, 1, 2, 3, 4, 30, 123456),
        user_data="dXNlcg==",
        root_device_name="/dev/vda",
        pinned_availability_zone="nova",
    )
    group = ServerGroup(
        uuid=GROUP, name="g", project_id=DEMO_PROJECT, user_id=DEMO_USER, policy="affinity"
    )
    await add(runtime, instance, group)
    await add(
        runtime,
        ServerGroupMember(group_id=group.id, instance_uuid=SERVER),
        InstanceTag(instance_uuid=SERVER, tag="prod"),
        InstanceTag(instance_uuid=SERVER, tag="blue"),
        BlockDeviceMapping(
            instance_uuid=SERVER, source_type="image", destination_type="local", image_id=IMAGE
        ),
        BlockDeviceMapping(
            instance_uuid=SERVER,
            source_type="volume",
            destination_type="volume",
            volume_id=VOLUME,
            delete_on_termination=True,
        ),
        BlockDeviceMapping(
            instance_uuid=SERVER,
            source_type="volume",
            destination_type="volume",
            volume_id="0ld00000-0000-0000-0000-000000000000",
            deleted=99,
        ),
        RequestSpecRecord(
            instance_uuid=SERVER,
            spec={"scheduler_hints": {"same_host": HINTED, "group": [GROUP]}},
        ),
    )
    async with runtime.db.write() as session:
        await compute_rows.add_host(session, "compute-1")


def member_21() -> dict[str, Any]:
    """The body Nova shows the server's own project at 2.1."""
    return {
        "id": SERVER,
        "name": "web",
        "status": "ACTIVE",
        "tenant_id": DEMO_PROJECT,
        "user_id": DEMO_USER,
        "metadata": {"role": "web"},
        "hostId": hashlib.sha224((DEMO_PROJECT + "compute-1").encode()).hexdigest(),
        "image": {
            "id": IMAGE,
            "links": [{"rel": "bookmark", "href": f"{BASE}/images/{IMAGE}"}],
        },
        "flavor": {"id": "1", "links": [{"rel": "bookmark", "href": f"{BASE}/flavors/1"}]},
        "created": "2024-01-02T03:04:05Z",
        "updated": "2024-01-02T03:05:06Z",
        "addresses": {
            "private": [
                _ip("10.0.0.5", 4, "fixed", MAC),
                _ip("fd00::5", 6, "fixed", MAC),
                _ip("172.24.4.10", 4, "floating", MAC),
            ],
            "public": [_ip("203.0.113.9", 4, "fixed", MAC2)],
        },
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links("servers", SERVER),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "True",
        "key_name": "mykey",
        "OS-SRV-USG:launched_at": "2024-01-02T03:04:30.123456",
        "OS-SRV-USG:terminated_at": None,
        "security_groups": [{"name": "default"}, {"name": "web"}],
        "OS-EXT-STS:task_state": None,
        "OS-EXT-STS:vm_state": "active",
        "OS-EXT-STS:power_state": 1,
        "os-extended-volumes:volumes_attached": [{"id": VOLUME}],
    }


def _ip(addr: str, version: int, kind: str, mac: str) -> dict[str, Any]:
    return {
        "version": version,
        "addr": addr,
        "OS-EXT-IPS:type": kind,
        "OS-EXT-IPS-MAC:mac_addr": mac,
    }


ADMIN_21 = {
    "OS-EXT-SRV-ATTR:host": "compute-1",
    "OS-EXT-SRV-ATTR:instance_name": "instance-00000001",
    "OS-EXT-SRV-ATTR:hypervisor_hostname": "compute-1",
}
ADMIN_23 = {
    "OS-EXT-SRV-ATTR:reservation_id": "r-abcdefgh",
    "OS-EXT-SRV-ATTR:launch_index": 0,
    "OS-EXT-SRV-ATTR:hostname": "web-1",
    "OS-EXT-SRV-ATTR:kernel_id": None,
    "OS-EXT-SRV-ATTR:ramdisk_id": None,
    "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
    "OS-EXT-SRV-ATTR:user_data": "dXNlcg==",
}


def member_2100() -> dict[str, Any]:
    return {
        **member_21(),
        "image": {
            "id": IMAGE,
            "links": [{"rel": "bookmark", "href": f"{BASE}/images/{IMAGE}"}],
            "properties": {"os_distro": "cirros"},
        },
        "flavor": {
            "vcpus": 1,
            "ram": 512,
            "disk": 1,
            "ephemeral": 0,
            "swap": 0,
            "original_name": "m1.tiny",
            "extra_specs": {"hw:cpu_policy": "shared"},
        },
        "os-extended-volumes:volumes_attached": [{"id": VOLUME, "delete_on_termination": True}],
        "locked": False,
        "locked_reason": None,
        "description": None,
        "tags": ["blue", "prod"],
        "trusted_image_certificates": None,
        "OS-EXT-SRV-ATTR:hostname": "web-1",
        "server_groups": [GROUP],
        "pinned_availability_zone": "nova",
        "scheduler_hints": {"same_host": [HINTED], "group": [GROUP]},
    }


async def show(api: httpx.AsyncClient, version: str, token: dict[str, str]) -> dict[str, Any]:
    r = await api.get(f"{SERVERS}/{SERVER}", headers=at(version, token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["server"]
    return body


async def test_member_at_21(api: httpx.AsyncClient, server: None) -> None:
    """What Terraform reads: flavor as an id with links, no admin attributes."""
    assert await show(api, "2.1", DEMO) == member_21()


async def test_admin_at_21(api: httpx.AsyncClient, server: None) -> None:
    assert await show(api, "2.1", ADMIN) == {**member_21(), **ADMIN_21}


async def test_admin_at_23_adds_attributes_and_delete_on_termination(
    api: httpx.AsyncClient, server: None
) -> None:
    body = await show(api, "2.3", ADMIN)
    assert body == {
        **member_21(),
        **ADMIN_21,
        **ADMIN_23,
        "os-extended-volumes:volumes_attached": [{"id": VOLUME, "delete_on_termination": True}],
    }


async def test_member_at_247_embeds_the_flavor(api: httpx.AsyncClient, server: None) -> None:
    body = await show(api, "2.47", DEMO)
    assert body["flavor"] == member_2100()["flavor"]
    assert body["locked"] is False and body["description"] is None
    assert body["tags"] == ["blue", "prod"] and "host_status" not in body
    assert "trusted_image_certificates" not in body and "server_groups" not in body


async def test_admin_at_247(api: httpx.AsyncClient, server: None) -> None:
    body = await show(api, "2.47", ADMIN)
    assert body["host_status"] == "UP"
    assert body["OS-EXT-SRV-ATTR:user_data"] == "dXNlcg=="
    assert body["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared"}


async def test_member_at_2100(api: httpx.AsyncClient, server: None) -> None:
    """What the openstack CLI reads."""
    assert await show(api, "2.100", DEMO) == member_2100()


async def test_admin_at_2100(api: httpx.AsyncClient, server: None) -> None:
    assert await show(api, "2.100", ADMIN) == {
        **member_2100(),
        **ADMIN_21,
        **ADMIN_23,
        "host_status": "UP",
    }


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [
        ("2.8", [], ["locked"]),
        ("2.9", ["locked"], ["description"]),
        ("2.19", ["description"], ["tags"]),
        ("2.62", ["tags"], ["trusted_image_certificates"]),
        ("2.70", ["trusted_image_certificates"], ["server_groups"]),
        ("2.72", ["server_groups"], ["locked_reason"]),
        ("2.89", ["locked_reason"], ["OS-EXT-SRV-ATTR:hostname"]),
        ("2.95", ["OS-EXT-SRV-ATTR:hostname"], ["pinned_availability_zone"]),
        ("2.97", ["pinned_availability_zone"], ["scheduler_hints"]),
        ("2.99", [], ["scheduler_hints"]),
    ],
)
async def test_keys_appear_with_their_microversion(
    api: httpx.AsyncClient, server: None, version: str, present: list[str], absent: list[str]
) -> None:
    body = await show(api, version, DEMO)
    assert all(key in body for key in present), version
    assert not any(key in body for key in absent), version


async def test_image_properties_from_298(api: httpx.AsyncClient, server: None) -> None:
    assert "properties" not in (await show(api, "2.97", DEMO))["image"]
    # image_min_ram is kept beside the properties but is a field of the image, as in Nova.
    assert (await show(api, "2.98", DEMO))["image"]["properties"] == {"os_distro": "cirros"}


async def test_host_status_only_for_admins_from_216(api: httpx.AsyncClient, server: None) -> None:
    assert "host_status" not in await show(api, "2.15", ADMIN)
    assert (await show(api, "2.16", ADMIN))["host_status"] == "UP"
    assert "host_status" not in await show(api, "2.16", DEMO)


async def add_server(runtime: Runtime, **fields: Any) -> str:
    instance = compute_rows.instance(DEMO_PROJECT, DEMO_USER, **fields)
    await add(runtime, instance)
    return instance.uuid


async def test_host_status_follows_the_compute_service(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    stale = utcnow() - datetime.timedelta(seconds=300)
    async with runtime.db.write() as session:
        await compute_rows.add_host(session, "up-1")
        await compute_rows.add_host(session, "off-1", disabled=True)
        await compute_rows.add_host(session, "stale-1", up=False)
        await compute_rows.add_host(session, "forced-1")
        await session.execute(
            update(ComputeService).where(ComputeService.host == "forced-1").values(forced_down=True)
        )
        await session.execute(
            update(ComputeService)
            .where(ComputeService.host == "stale-1")
            .values(created_at=stale, last_seen_up=None)
        )
    expected = {}
    for host, status in [
        ("up-1", "UP"),
        ("off-1", "MAINTENANCE"),
        ("stale-1", "UNKNOWN"),
        ("forced-1", "DOWN"),
        (None, ""),
        ("nowhere", ""),
    ]:
        expected[await add_server(runtime, host=host, node=host)] = status
    r = await api.get(f"{SERVERS}/detail", headers=at("2.16"), params={"all_tenants": "1"})
    assert {s["id"]: s["host_status"] for s in r.json()["servers"]} == expected


async def test_fault_of_an_errored_server(api: httpx.AsyncClient, runtime: Runtime) -> None:
    """The newest fault only; a 500's traceback only for admins."""
    ident = await add_server(runtime, vm_state="error", host=None, node=None)
    await add(
        runtime,
        InstanceFault(
            instance_uuid=ident, code=500, message="old", details="tb0", created_at=at_time(1)
        ),
        InstanceFault(
            instance_uuid=ident,
            code=500,
            message="No valid host was found. ",
            details="Traceback ...",
            created_at=at_time(2),
        ),
    )
    member = (await api.get(f"{SERVERS}/{ident}", headers=at("2.1", DEMO))).json()["server"]
    assert member["status"] == "ERROR"
    assert member["fault"] == {
        "code": 500,
        "created": "2024-01-02T03:02:00Z",
        "message": "No valid host was found. ",
    }
    assert "progress" not in member and member["hostId"] == ""
    admin = (await api.get(f"{SERVERS}/{ident}", headers=ADMIN)).json()["server"]
    assert admin["fault"]["details"] == "Traceback ..."


async def test_fault_details_of_a_non_500_reach_members(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    ident = await add_server(runtime, vm_state="error")
    await add(runtime, InstanceFault(instance_uuid=ident, code=400, message="m", details="why"))
    body = (await api.get(f"{SERVERS}/{ident}", headers=DEMO)).json()["server"]
    assert body["fault"]["details"] == "why"


async def test_no_fault_shown_unless_error(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ident = await add_server(runtime)
    await add(runtime, InstanceFault(instance_uuid=ident, code=500, message="gone"))
    assert "fault" not in (await api.get(f"{SERVERS}/{ident}", headers=DEMO)).json()["server"]


async def test_building_server_hides_addresses(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ident = await add_server(
        runtime,
        vm_state="building",
        task_state="spawning",
        network_info=[vif("private", MAC, ("10.0.0.7", 4))],
        progress=40,
    )
    body = (await api.get(f"{SERVERS}/{ident}", headers=DEMO)).json()["server"]
    assert body["status"] == "BUILD" and body["progress"] == 40
    assert body["addresses"] == {}


async def test_boot_from_volume_and_bare_server(api: httpx.AsyncClient, runtime: Runtime) -> None:
    """No image is "", no security group means no key, a stopped server shows no progress."""
    ident = await add_server(runtime, image_ref="", vm_state="stopped", power_state=4)
    body = (await api.get(f"{SERVERS}/{ident}", headers=at("2.100", DEMO))).json()["server"]
    assert body["image"] == ""
    assert body["status"] == "SHUTOFF"
    assert "security_groups" not in body and "progress" not in body
    assert body["addresses"] == {} and body["os-extended-volumes:volumes_attached"] == []
    assert body["server_groups"] == [] and body["scheduler_hints"] == {} and body["tags"] == []


async def test_locked_and_described(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ident = await add_server(
        runtime,
        locked=True,
        locked_by="admin",
        locked_reason="maintenance",
        display_description="the web server",
        access_ip_v4="192.0.2.1",
        auto_disk_config=True,
    )
    body = (await api.get(f"{SERVERS}/{ident}", headers=at("2.73", DEMO))).json()["server"]
    assert body["locked"] is True and body["locked_reason"] == "maintenance"
    assert body["description"] == "the web server"
    assert body["accessIPv4"] == "192.0.2.1" and body["OS-DCF:diskConfig"] == "AUTO"


async def test_detail_has_no_server_groups(api: httpx.AsyncClient, server: None) -> None:
    r = await api.get(f"{SERVERS}/detail", headers=at("2.100", DEMO))
    (body,) = r.json()["servers"]
    expected = member_2100()
    del expected["server_groups"]
    assert body == expected


async def test_index_is_id_name_links(api: httpx.AsyncClient, server: None) -> None:
    r = await api.get(SERVERS, headers=at("2.100", DEMO))
    assert r.json() == {
        "servers": [{"id": SERVER, "name": "web", "links": links("servers", SERVER)}]
    }


async def test_legacy_project_url_in_links(api: httpx.AsyncClient, server: None) -> None:
    r = await api.get(f"/compute/v2.1/{DEMO_PROJECT}/servers/{SERVER}", headers=DEMO)
    body = r.json()["server"]
    assert body["links"][1]["href"] == f"{BASE}/{DEMO_PROJECT}/servers/{SERVER}"
    assert body["flavor"]["links"][0]["href"] == f"{BASE}/{DEMO_PROJECT}/flavors/1"
