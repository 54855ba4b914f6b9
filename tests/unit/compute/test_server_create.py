"""Each wrong ``POST /servers`` gets Nova's status and message, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cumulo.db.models.instances import Instance
from cumulo.db.models.network import Port
from tests.boot_cloud import ADMIN, DEMO, BootCloud, boot_cloud

UNKNOWN = "9f9b7d36-0c6a-4ad4-9a59-8c3f3c1f0e11"


@pytest.fixture
async def cloud(tmp_path: Path) -> Any:
    async with boot_cloud(tmp_path) as c:
        yield c


async def _refused(
    cloud: BootCloud,
    body: dict[str, Any],
    status: int,
    message: str,
    headers: dict[str, str] = DEMO,
) -> None:
    r = await cloud.api.post("/compute/v2.1/servers", headers=headers, json=body)
    assert r.status_code == status, r.text
    fault = next(iter(r.json().values()))
    assert fault["message"] == message
    async with cloud.runtime.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Instance)) == 0
        assert await session.scalar(select(func.count()).select_from(Port)) == 0


async def test_unknown_flavor(cloud: BootCloud) -> None:
    body = cloud.server_body(flavorRef="nope")
    await _refused(cloud, body, 400, "Flavor nope could not be found.")


async def test_unknown_image(cloud: BootCloud) -> None:
    await _refused(cloud, cloud.server_body(imageRef=UNKNOWN), 400, "Can not find requested image")


async def test_image_not_active(cloud: BootCloud) -> None:
    r = await cloud.api.post(
        "/image/v2/images",
        headers=DEMO,
        json={"name": "empty", "disk_format": "raw", "container_format": "bare"},
    )
    queued = r.json()["id"]
    await _refused(
        cloud, cloud.server_body(imageRef=queued), 400, f"Image {queued} is not active."
    )


async def test_image_needs_more_disk_or_memory_than_the_flavor(cloud: BootCloud) -> None:
    await cloud.api.patch(
        f"/image/v2/images/{cloud.image_id}",
        headers={**DEMO, "Content-Type": "application/openstack-images-v2.1-json-patch"},
        json=[{"op": "replace", "path": "/min_disk", "value": 5}],
    )
    await _refused(
        cloud,
        cloud.server_body(),
        400,
        "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor "
        "disk is 1073741824 bytes, minimum size is 5368709120 bytes.",
    )
    await cloud.api.patch(
        f"/image/v2/images/{cloud.image_id}",
        headers={**DEMO, "Content-Type": "application/openstack-images-v2.1-json-patch"},
        json=[
            {"op": "replace", "path": "/min_disk", "value": 0},
            {"op": "replace", "path": "/min_ram", "value": 4096},
        ],
    )
    await _refused(
        cloud, cloud.server_body(), 400, "Flavor's memory is too small for requested image."
    )


async def test_zero_disk_flavor_needs_a_volume(cloud: BootCloud) -> None:
    zero = await cloud.flavor("zero", vcpus=1, ram=64, disk=0)
    await _refused(
        cloud,
        cloud.server_body(flavorRef=zero),
        403,
        "Only volume-backed servers are allowed for flavors with zero disk.",
    )


async def test_min_count_above_max_count(cloud: BootCloud) -> None:
    body = cloud.server_body(min_count=3, max_count=2)
    await _refused(cloud, body, 400, "min_count must be <= max_count")


async def test_unknown_key_name(cloud: BootCloud) -> None:
    await _refused(cloud, cloud.server_body(key_name="nokey"), 400, "Invalid key_name provided.")


async def test_unknown_network(cloud: BootCloud) -> None:
    body = cloud.server_body(networks=[{"uuid": UNKNOWN}])
    await _refused(cloud, body, 400, f"Network {UNKNOWN} could not be found.")


async def test_networks_are_required_from_2_37(cloud: BootCloud) -> None:
    body = cloud.server_body()
    del body["server"]["networks"]
    r = await cloud.api.post("/compute/v2.1/servers", headers=DEMO, json=body)
    assert r.status_code == 400
    assert "'networks' is a required property" in r.json()["badRequest"]["message"]


async def test_port_and_fixed_ip_together(cloud: BootCloud) -> None:
    body = cloud.server_body(networks=[{"port": UNKNOWN, "fixed_ip": "10.0.0.9"}])
    await _refused(
        cloud,
        body,
        400,
        f"Specified Fixed IP '10.0.0.9' cannot be used with port '{UNKNOWN}': the two cannot "
        "be specified together.",
    )


async def test_unknown_server_group(cloud: BootCloud) -> None:
    body = {**cloud.server_body(), "os:scheduler_hints": {"group": UNKNOWN}}
    await _refused(cloud, body, 400, f"Instance group {UNKNOWN} could not be found.")


async def test_user_data_must_be_base64(cloud: BootCloud) -> None:
    body = cloud.server_body(user_data="not base64!")
    await _refused(cloud, body, 400, "User data needs to be valid base 64.")


async def test_forcing_a_host_is_for_admins(cloud: BootCloud) -> None:
    body = cloud.server_body(availability_zone="nova:compute-2")
    r = await cloud.api.post("/compute/v2.1/servers", headers=DEMO, json=body)
    assert r.status_code == 403
    r = await cloud.api.post("/compute/v2.1/servers", headers=ADMIN, json=body)
    assert r.status_code == 202, r.text
    server = await cloud.wait(r.json()["server"]["id"], "active")
    assert server.host == "compute-2"


async def test_unknown_availability_zone(cloud: BootCloud) -> None:
    body = cloud.server_body(availability_zone="moon")
    await _refused(cloud, body, 400, "The requested availability zone is not available")


async def test_block_device_mapping_errors(cloud: BootCloud) -> None:
    no_size = {"source_type": "image", "destination_type": "volume", "uuid": cloud.image_id,
               "boot_index": 0}  # fmt: skip
    await _refused(
        cloud,
        cloud.server_body(imageRef="", block_device_mapping_v2=[no_size]),
        400,
        "Block Device Mapping is Invalid: Images with destination_type 'volume' need to have "
        "a non-zero size specified",
    )
    gap = {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
           "boot_index": 2}  # fmt: skip
    await _refused(
        cloud,
        cloud.server_body(block_device_mapping_v2=[gap]),
        400,
        "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device "
        "mapping combination is not valid.",
    )
    await _refused(cloud, cloud.server_body(imageRef=""), 400, "Missing imageRef attribute")


async def test_one_hostname_for_many_servers(cloud: BootCloud) -> None:
    body = cloud.server_body(hostname="web", max_count=2)
    await _refused(cloud, body, 400, "Unable to allocate a single hostname to multiple instances")


async def test_description_needs_2_19(cloud: BootCloud) -> None:
    headers = {**DEMO, "OpenStack-API-Version": "compute 2.18"}
    body = cloud.server_body(description="x")
    r = await cloud.api.post("/compute/v2.1/servers", headers=headers, json=body)
    assert r.status_code == 400
    assert "('description' was unexpected)" in r.json()["badRequest"]["message"]


async def test_no_network_at_all(cloud: BootCloud) -> None:
    uuid = await cloud.create(networks="none")
    server = await cloud.wait(uuid, "active")
    assert server.network_info == []
    assert await cloud.ports_of(uuid) == 0
