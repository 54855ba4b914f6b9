"""Uploading and downloading image data: statuses, hashes, refusals, leftovers."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cumulo.api.app import build_app
from cumulo.runtime import Runtime
from tests.unit.image import crafted

ADMIN = {"X-Auth-Token": "admin-token"}
DEMO = {"X-Auth-Token": "demo-token"}
OCTETS = {**DEMO, "Content-Type": "application/octet-stream"}


async def new_image(
    api: httpx.AsyncClient, disk_format: str = "raw", headers: dict[str, str] = DEMO
) -> str:
    resp = await api.post(
        "/image/v2/images",
        headers=headers,
        json={"name": "img", "disk_format": disk_format, "container_format": "bare"},
    )
    return resp.json()["id"]


async def show(api: httpx.AsyncClient, image_id: str) -> dict:
    return (await api.get(f"/image/v2/images/{image_id}", headers=ADMIN)).json()


def stored(tmp_path: Path) -> list[str]:
    root = tmp_path / "images"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


async def test_upload_then_download(api: httpx.AsyncClient, tmp_path: Path) -> None:
    data = crafted.qcow2()
    image_id = await new_image(api, "qcow2")
    resp = await api.put(f"/image/v2/images/{image_id}/file", content=data, headers=OCTETS)
    assert resp.status_code == 204, resp.text
    image = await show(api, image_id)
    assert image["status"] == "active"
    assert image["size"] == len(data)
    assert image["virtual_size"] == 1 << 30
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["os_hash_algo"] == "sha512"
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert stored(tmp_path) == [image_id]
    got = await api.get(f"/image/v2/images/{image_id}/file", headers=DEMO)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-md5"] == image["checksum"]
    assert got.headers["content-type"] == "application/octet-stream"
    again = await api.put(f"/image/v2/images/{image_id}/file", content=b"x", headers=OCTETS)
    assert again.status_code == 409
    assert (await api.delete(f"/image/v2/images/{image_id}", headers=DEMO)).status_code == 204
    assert stored(tmp_path) == []


async def test_streamed_upload_in_chunks(api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for n in range(8):
            yield bytes([n]) * 100_000

    image_id = await new_image(api)
    resp = await api.put(f"/image/v2/images/{image_id}/file", content=chunks(), headers=OCTETS)
    assert resp.status_code == 204
    assert (await show(api, image_id))["size"] == 800_000


@pytest.mark.parametrize(
    ("disk_format", "data"),
    [
        ("qcow2", crafted.qcow2(backing=b"/etc/passwd")),
        ("qcow2", crafted.qcow2(data_file=True)),
        ("qcow2", crafted.qcow2(length=4096)),
        ("qcow2", b"just raw bytes" * 100),
        ("vmdk", crafted.vmdk_descriptor()),
        ("raw", crafted.qcow2()),
    ],
)
async def test_malicious_upload_is_refused(
    api: httpx.AsyncClient, tmp_path: Path, disk_format: str, data: bytes
) -> None:
    image_id = await new_image(api, disk_format)
    resp = await api.put(f"/image/v2/images/{image_id}/file", content=data, headers=OCTETS)
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("Image data is not acceptable")
    image = await show(api, image_id)
    assert image["status"] == "queued" and image["size"] is None
    assert stored(tmp_path) == []


async def test_interrupted_upload_leaves_queued_and_no_file(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        raise ConnectionResetError("client went away")

    image_id = await new_image(api)
    resp = await api.put(f"/image/v2/images/{image_id}/file", content=broken(), headers=OCTETS)
    assert resp.status_code == 500
    assert (await show(api, image_id))["status"] == "queued"
    assert stored(tmp_path) == []  # neither the image's file nor a temporary one
    again = await api.put(f"/image/v2/images/{image_id}/file", content=b"ok", headers=OCTETS)
    assert again.status_code == 204


async def test_upload_over_the_size_cap(
    api: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.settings.image.image_size_cap = 10
    image_id = await new_image(api)
    url = f"/image/v2/images/{image_id}/file"

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 6
        yield b"x" * 6

    for content in (b"x" * 11, chunks()):  # declared by Content-Length, then found streaming
        resp = await api.put(url, content=content, headers=OCTETS)
        assert resp.status_code == 413
        assert resp.json()["message"] == (
            "The incoming image is too large: The provided image is too large."
        )
        assert (await show(api, image_id))["status"] == "queued"
        assert stored(tmp_path) == []
    assert (await api.put(url, content=b"x" * 10, headers=OCTETS)).status_code == 204


async def test_upload_refusals(api: httpx.AsyncClient) -> None:
    image_id = await new_image(api)
    url = f"/image/v2/images/{image_id}/file"
    wrong = await api.put(url, content=b"x", headers={**DEMO, "Content-Type": "text/plain"})
    assert wrong.status_code == 415
    public = await new_image(api, headers=ADMIN)
    patch = {**ADMIN, "Content-Type": "application/openstack-images-v2.1-json-patch"}
    ops = [{"op": "replace", "path": "/visibility", "value": "public"}]
    assert (await api.patch(f"/image/v2/images/{public}", json=ops, headers=patch)).is_success
    other = await api.put(f"/image/v2/images/{public}/file", content=b"x", headers=OCTETS)
    assert other.status_code == 403


async def test_download_without_data(api: httpx.AsyncClient) -> None:
    image_id = await new_image(api)
    resp = await api.get(f"/image/v2/images/{image_id}/file", headers=DEMO)
    assert resp.status_code == 204


async def test_deactivate_and_reactivate(api: httpx.AsyncClient) -> None:
    image_id = await new_image(api)
    actions = f"/image/v2/images/{image_id}/actions"
    queued = await api.post(f"{actions}/deactivate", headers=ADMIN)
    assert queued.status_code == 403
    url = f"/image/v2/images/{image_id}/file"
    assert (await api.put(url, content=b"data", headers=OCTETS)).status_code == 204
    assert (await api.post(f"{actions}/deactivate", headers=DEMO)).status_code == 403
    assert (await api.post(f"{actions}/deactivate", headers=ADMIN)).status_code == 204
    assert (await show(api, image_id))["status"] == "deactivated"
    assert (await api.get(url, headers=DEMO)).status_code == 403
    assert (await api.get(url, headers=ADMIN)).status_code == 200
    assert (await api.post(f"{actions}/reactivate", headers=ADMIN)).status_code == 204
    assert (await show(api, image_id))["status"] == "active"
    assert (await api.get(url, headers=DEMO)).content == b"data"


async def test_project_storage_quota(
    api: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.settings.image.quota_image_size_total = 1  # MiB
    first, second, third = await new_image(api), await new_image(api), await new_image(api)
    ok = await api.put(f"/image/v2/images/{first}/file", content=b"a" * 600_000, headers=OCTETS)
    assert ok.status_code == 204
    over = await api.put(f"/image/v2/images/{second}/file", content=b"b" * 600_000, headers=OCTETS)
    assert over.status_code == 413
    assert over.json()["message"] == (
        "Image exceeds the storage quota: The size of the data 600000 will exceed the limit. "
        f"{(1 << 20) - 600_000} bytes remaining."
    )
    assert (await show(api, second))["status"] == "queued"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: refused mid-stream
        for _ in range(6):
            yield b"c" * 100_000

    streamed = await api.put(f"/image/v2/images/{third}/file", content=chunks(), headers=OCTETS)
    assert streamed.status_code == 413
    assert (await show(api, third))["status"] == "queued"
    assert stored(tmp_path) == [first]
    other = await new_image(api, headers=ADMIN)  # another project's quota is its own
    url = f"/image/v2/images/{other}/file"
    resp = await api.put(url, content=b"d" * 600_000, headers={**OCTETS, **ADMIN})
    assert resp.status_code == 204


async def test_concurrent_uploads_cannot_overflow_the_quota(
    api: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.settings.image.quota_image_size_total = 1  # MiB: room for one of the two
    ids = [await new_image(api), await new_image(api)]
    both_started = asyncio.Event()
    started = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal started
        yield b"a" * 300_000
        started += 1
        if started == 2:
            both_started.set()
        await both_started.wait()
        yield b"b" * 300_000

    results = await asyncio.gather(
        *(api.put(f"/image/v2/images/{i}/file", content=chunks(), headers=OCTETS) for i in ids)
    )
    assert sorted(r.status_code for r in results) == [204, 413]
    statuses = sorted([(await show(api, i))["status"] for i in ids])
    assert statuses == ["active", "queued"]
    winner = ids[[r.status_code for r in results].index(204)]
    assert stored(tmp_path) == [winner]


async def test_status_is_saving_during_the_upload(api: httpx.AsyncClient) -> None:
    image_id = await new_image(api)
    seen: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        seen.append((await show(api, image_id))["status"])
        yield b"b" * 1000

    resp = await api.put(f"/image/v2/images/{image_id}/file", content=chunks(), headers=OCTETS)
    assert resp.status_code == 204
    assert seen == ["saving"]
    assert (await show(api, image_id))["status"] == "active"


async def test_unverifiable_signature_kills_the_image(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    cert = "f0e0d0c0-1111-4222-8333-944444444444"
    resp = await api.post(
        "/image/v2/images",
        headers=DEMO,
        json={
            "disk_format": "raw",
            "container_format": "bare",
            "img_signature": "c2ln",
            "img_signature_hash_method": "SHA-256",
            "img_signature_key_type": "RSA-PSS",
            "img_signature_certificate_uuid": cert,
        },
    )
    image_id = resp.json()["id"]
    url = f"/image/v2/images/{image_id}/file"
    killed = await api.put(url, content=b"data", headers=OCTETS)
    assert killed.status_code == 400
    assert killed.json()["message"].startswith(
        f"Signature verification failed for image {image_id}: "
    )
    assert cert in killed.json()["message"]
    assert (await show(api, image_id))["status"] == "killed"
    assert stored(tmp_path) == []
    again = await api.put(url, content=b"data", headers=OCTETS)
    assert again.status_code == 409
    assert (await api.delete(f"/image/v2/images/{image_id}", headers=DEMO)).status_code == 204


async def test_client_disconnect_during_upload(
    runtime: Runtime, tmp_path: Path, api: httpx.AsyncClient
) -> None:
    image_id = await new_image(api)
    messages = [
        {"type": "http.request", "body": b"x" * 10, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "server": ("cumulo.test", 80),
        "path": f"/image/v2/images/{image_id}/file",
        "raw_path": b"",
        "root_path": "",
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "headers": [
            (b"x-auth-token", b"demo-token"),
            (b"host", b"cumulo.test"),
            (b"content-type", b"application/octet-stream"),
        ],
    }
    await build_app(runtime)(scope, receive, send)
    assert sent[0]["status"] == 400
    assert (await show(api, image_id))["status"] == "queued"
    assert stored(tmp_path) == []


async def test_image_deleted_during_upload(api: httpx.AsyncClient, tmp_path: Path) -> None:
    image_id = await new_image(api)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        deleted = await api.delete(f"/image/v2/images/{image_id}", headers=DEMO)
        assert deleted.status_code == 204
        yield b"b" * 1000

    resp = await api.put(f"/image/v2/images/{image_id}/file", content=chunks(), headers=OCTETS)
    assert resp.status_code == 410
    assert resp.json()["message"].startswith(f"Image {image_id} could not be found after upload.")
    assert (await api.get(f"/image/v2/images/{image_id}", headers=DEMO)).status_code == 404
    assert stored(tmp_path) == []
