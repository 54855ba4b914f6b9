"""Volumes made from images: conversion, bootable, image metadata, and the refusals."""

from __future__ import annotations

import asyncio

import httpx

from cumulo.rpc import Bus
from cumulo.runtime import Runtime
from cumulo.volume import storage
from tests.unit.volume.conftest import (
    DEMO_H,
    DEMO_URL,
    GiB,
    create_volume,
    upload_image,
    wait_for,
)

RAW = b"\xeb\x63\x90" + b"\0" * 509 + b"boot" * 128  # 1 KiB that is plainly raw


async def _post(api: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    return await api.post(f"{DEMO_URL}/volumes", json={"volume": body}, headers=DEMO_H)


async def test_volume_from_image_holds_the_image_data(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    image_id = await upload_image(api, RAW, hw_disk_bus="scsi")
    volume = await create_volume(api, size=2, imageRef=image_id)
    done = await wait_for(api, volume["id"], "available")
    assert done["bootable"] == "true"
    meta = done["volume_image_metadata"]
    assert (meta["image_id"], meta["disk_format"], meta["hw_disk_bus"]) == (image_id, "raw", "scsi")
    path = storage.volume_path(runtime.settings.volume_dir, volume["id"])
    assert await storage.virtual_size(path, "qcow2") == 2 * GiB
    out = runtime.settings.state_dir / "check.raw"
    proc = await asyncio.create_subprocess_exec(
        "qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(out)
    )
    assert await proc.wait() == 0
    assert (await asyncio.to_thread(out.stat)).st_size == 2 * GiB
    with open(out, "rb") as f:  # noqa: ASYNC230 (1 KiB)
        assert f.read(len(RAW)) == RAW
    bootable = await api.get(f"{DEMO_URL}/volumes?bootable=true", headers=DEMO_H)
    assert [v["id"] for v in bootable.json()["volumes"]] == [volume["id"]]


async def test_image_refusals_write_nothing(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    queued = await api.post(
        "/image/v2/images", json={"name": "empty", "disk_format": "raw",
                                  "container_format": "bare"},
        headers={"X-Auth-Token": "demo-token"},
    )  # fmt: skip
    queued_id = queued.json()["id"]
    big = await upload_image(api, RAW, min_disk=5)
    cases = [
        ({"size": 1, "imageRef": queued_id},
         f"Invalid input received: Image {queued_id} is not active."),
        ({"size": 2, "imageRef": big},
         "Invalid input received: Volume size 2GB cannot be smaller than the image minDisk "
         "size 5GB."),
        ({"size": 1, "imageRef": "00000000-0000-0000-0000-000000000000"},
         "Invalid image identifier or unable to access requested image."),
    ]  # fmt: skip
    for body, message in cases:
        resp = await _post(api, body)
        assert resp.status_code == 400, body
        assert resp.json()["badRequest"]["message"] == message
    listed = await api.get(f"{DEMO_URL}/volumes", headers=DEMO_H)
    assert listed.json()["volumes"] == []
    assert await asyncio.to_thread(lambda: list(runtime.settings.volume_dir.glob("*"))) == []


async def test_image_larger_than_the_volume_is_unacceptable(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    src = runtime.settings.state_dir / "big.qcow2"
    proc = await asyncio.create_subprocess_exec(
        "qemu-img", "create", "-f", "qcow2", str(src), "3G", stdout=asyncio.subprocess.DEVNULL
    )
    assert await proc.wait() == 0
    image_id = await upload_image(api, await asyncio.to_thread(src.read_bytes), "qcow2")
    resp = await _post(api, {"size": 2, "imageRef": image_id})
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == (
        f"Image {image_id} is unacceptable: Image virtual size is 3GB and doesn't fit in a "
        "volume of size 2GB."
    )
    ok = await create_volume(api, size=3, imageRef=image_id)
    done = await wait_for(api, ok["id"], "available")
    assert done["volume_image_metadata"]["disk_format"] == "qcow2"


async def test_conversion_failure_leaves_error_and_no_file(
    api: httpx.AsyncClient, bus: Bus, runtime: Runtime
) -> None:
    image_id = await upload_image(api, RAW)
    # The image's data vanishes between the API's check and the conversion.
    await asyncio.to_thread((runtime.settings.image_dir / image_id).unlink)
    volume = await create_volume(api, size=1, imageRef=image_id)
    await wait_for(api, volume["id"], "error")
    assert await asyncio.to_thread(lambda: list(runtime.settings.volume_dir.glob("*"))) == []
