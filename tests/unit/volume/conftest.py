"""Helpers for the volume API tests: headers at the newest microversion, waiting, images."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.fakes import ADMIN_PROJECT, DEMO_PROJECT

LATEST = "volume 3.71"
ADMIN_H = {"X-Auth-Token": "admin-token", "OpenStack-API-Version": LATEST}
DEMO_H = {"X-Auth-Token": "demo-token", "OpenStack-API-Version": LATEST}
DEMO_URL = f"/volume/v3/{DEMO_PROJECT}"
ADMIN_URL = f"/volume/v3/{ADMIN_PROJECT}"
GiB = 1 << 30


async def create_volume(
    api: httpx.AsyncClient, url: str = DEMO_URL, headers: dict[str, str] = DEMO_H, **fields: Any
) -> dict[str, Any]:
    body = {"size": 1, **fields}
    resp = await api.post(f"{url}/volumes", json={"volume": body}, headers=headers)
    assert resp.status_code == 202, resp.text
    return dict(resp.json()["volume"])


async def wait_for(
    api: httpx.AsyncClient,
    volume_id: str,
    status: str,
    url: str = DEMO_URL,
    headers: dict[str, str] = DEMO_H,
) -> dict[str, Any]:
    """The volume once it has ``status`` (``"gone"``: once it is 404)."""
    body: dict[str, Any] = {}
    for _ in range(300):
        resp = await api.get(f"{url}/volumes/{volume_id}", headers=headers)
        if status == "gone" and resp.status_code == 404:
            return {}
        assert resp.status_code == 200, resp.text
        body = resp.json()["volume"]
        if body["status"] == status:
            return dict(body)
        await asyncio.sleep(0.02)
    raise AssertionError(f"volume {volume_id} stayed {body.get('status')}, wanted {status}")


async def available_volume(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    volume = await create_volume(api, **fields)
    return await wait_for(api, volume["id"], "available")


async def upload_image(
    api: httpx.AsyncClient, data: bytes, disk_format: str = "raw", **fields: Any
) -> str:
    headers = {"X-Auth-Token": "demo-token"}
    body = {"name": "disk", "disk_format": disk_format, "container_format": "bare", **fields}
    resp = await api.post("/image/v2/images", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    image_id = str(resp.json()["id"])
    put = await api.put(
        f"/image/v2/images/{image_id}/file",
        content=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 204, put.text
    return image_id
