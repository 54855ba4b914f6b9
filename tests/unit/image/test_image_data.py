"""Uploading and downloading image data: statuses, hashes, refusals, leftovers."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cumulo.api.app import build_app
from cumulo.image import data, store
from cumulo.runtime import Runtime
from tests.unit.image import crafted

ADMIN = {"X-Auth-Token": "admin-token"}
DEMO = {"X-Auth-Token": "demo-token"}
OCTETS = {**DEMO, "Content-Type": "application/octet-stream"}


async def new_image(api: httpx.AsyncClient, disk_format: str = "raw",
                    headers: dict[str, str] = DEMO) -> str:
    resp = await api.post("/image/v2/images", headers=headers,
                          json={"name": "img", "disk_format": disk_format,
                                "container_format": "bare"})
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


@pytest.mark.parametrize(("disk_format", "data"), [
    ("qcow2", crafted.qcow2(backing=b"/etc/passwd")),
    ("qcow2", crafted.qcow2(data_file=True)),
    ("qcow2", crafted.qcow2(length=4096)),
    ("qcow2", b"just raw bytes" * 100),
    ("vmdk", crafted.vmdk_descriptor()),
    ("raw", crafted.qcow2()),
])
async def test_malicious_upload_is_refused(api: httpx.AsyncClient, tmp_path: Path,
                                           disk_format: str, data: bytes) -> None:
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
    assert stored(tmp_path) == []


async def test_too_large_upload(api: httpx.AsyncClient, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "MAX_IMAGE_SIZE", 10)
    image_id = await new_image(api)
    resp = await api.put(f"/image/v2/images/{image_id}/file", content=b"x" * 11, headers=OCTETS)
    assert resp.status_code == 413
    assert (await show(api, image_id))["status"] == "queued"
    assert stored(tmp_path) == []


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


async def test_project_storage_quota(api: httpx.AsyncClient, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "IMAGE_SIZE_TOTAL", 100)
    first, second = await new_image(api), await new_image(api)
    ok = await api.put(f"/image/v2/images/{first}/file", content=b"a" * 60, headers=OCTETS)
    assert ok.status_code == 204
    over = await api.put(f"/image/v2/images/{second}/file", content=b"b" * 60, headers=OCTETS)
    assert over.status_code == 413
    assert (await show(api, second))["status"] == "queued"
    assert stored(tmp_path) == [first]


async def test_client_disconnect_during_upload(runtime: Runtime, tmp_path: Path,
                                               api: httpx.AsyncClient) -> None:
    image_id = await new_image(api)
    messages = [{"type": "http.request", "body": b"x" * 10, "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "PUT", "scheme": "http", "server": ("cumulo.test", 80),
             "path": f"/image/v2/images/{image_id}/file", "raw_path": b"", "root_path": "",
             "query_string": b"", "client": ("127.0.0.1", 1),
             "headers": [(b"x-auth-token", b"demo-token"), (b"host", b"cumulo.test"),
                         (b"content-type", b"application/octet-stream")]}
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
    assert resp.status_code == 409
    assert (await api.get(f"/image/v2/images/{image_id}", headers=DEMO)).status_code == 404
    assert stored(tmp_path) == []
