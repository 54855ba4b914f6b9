"""Other services read image records over the bus, with the caller's visibility."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from cumulo.image.errors import ImageNotFound
from cumulo.image.rpcapi import ImageAPI
from cumulo.rpc import Bus
from tests.fakes import ADMIN, DEMO, DEMO_PROJECT

DEMO_HEADERS = {"X-Auth-Token": "demo-token"}


async def _uploaded_image(api: httpx.AsyncClient, visibility: str = "private") -> str:
    body = {
        "name": "disk",
        "disk_format": "raw",
        "container_format": "bare",
        "visibility": visibility,
        "hw_disk_bus": "virtio",
    }
    resp = await api.post("/image/v2/images", json=body, headers=DEMO_HEADERS)
    assert resp.status_code == 201, resp.text
    image_id = resp.json()["id"]
    headers = {**DEMO_HEADERS, "Content-Type": "application/octet-stream"}
    put = await api.put(f"/image/v2/images/{image_id}/file", content=b"\0" * 4096, headers=headers)
    assert put.status_code == 204, put.text
    return image_id


async def test_get_returns_record_and_local_location(api: httpx.AsyncClient, bus: Bus) -> None:
    image_id = await _uploaded_image(api)
    meta = await ImageAPI(bus).get(DEMO, image_id)
    assert (meta.id, meta.status, meta.owner) == (image_id, "active", DEMO_PROJECT)
    assert meta.size == 4096 and meta.disk_format == "raw"
    assert meta.properties == {"hw_disk_bus": "virtio"}
    assert meta.location is not None
    data = await asyncio.to_thread(Path(meta.location.removeprefix("file://")).read_bytes)
    assert data == b"\0" * 4096


async def test_private_image_of_another_project_is_not_found(
    api: httpx.AsyncClient, bus: Bus
) -> None:
    image_id = await _uploaded_image(api)
    other = DEMO.model_copy(update={"project_id": "f" * 32, "roles": ("member",)})
    with pytest.raises(ImageNotFound):
        await ImageAPI(bus).get(other, image_id)
    assert (await ImageAPI(bus).get(ADMIN, image_id)).id == image_id


async def test_queued_image_has_no_location(api: httpx.AsyncClient, bus: Bus) -> None:
    resp = await api.post("/image/v2/images", json={"name": "empty"}, headers=DEMO_HEADERS)
    meta = await ImageAPI(bus).get(DEMO, resp.json()["id"])
    assert meta.status == "queued" and meta.location is None
