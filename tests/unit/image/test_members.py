"""Image members: sharing a shared image with another project, accept/reject."""

from __future__ import annotations

import httpx

from tests.fakes import ADMIN_PROJECT, DEMO_PROJECT

ADMIN = {"X-Auth-Token": "admin-token"}
DEMO = {"X-Auth-Token": "demo-token"}


async def demo_image(api: httpx.AsyncClient, visibility: str = "shared") -> str:
    resp = await api.post(
        "/image/v2/images", headers=DEMO, json={"name": "shared-img", "visibility": visibility}
    )
    return resp.json()["id"]


async def test_share_accept_reject(api: httpx.AsyncClient) -> None:
    image_id = await demo_image(api)
    url = f"/image/v2/images/{image_id}/members"
    resp = await api.post(url, json={"member": ADMIN_PROJECT}, headers=DEMO)
    assert resp.status_code == 200, resp.text
    member = resp.json()
    assert member["status"] == "pending" and member["member_id"] == ADMIN_PROJECT
    assert member["image_id"] == image_id and member["schema"] == "/v2/schemas/member"
    dup = await api.post(url, json={"member": ADMIN_PROJECT}, headers=DEMO)
    assert dup.status_code == 409
    listing = (await api.get(url, headers=DEMO)).json()
    assert [m["member_id"] for m in listing["members"]] == [ADMIN_PROJECT]
    assert listing["schema"] == "/v2/schemas/members"

    member_url = f"{url}/{ADMIN_PROJECT}"
    owner_accepts = await api.put(member_url, json={"status": "accepted"}, headers=DEMO)
    assert owner_accepts.status_code == 403
    bad = await api.put(member_url, json={"status": "maybe"}, headers=ADMIN)
    assert bad.status_code == 400
    accepted = await api.put(member_url, json={"status": "accepted"}, headers=ADMIN)
    assert accepted.json()["status"] == "accepted"
    assert (await api.get(member_url, headers=ADMIN)).json()["status"] == "accepted"

    assert (await api.delete(member_url, headers=DEMO)).status_code == 204
    assert (await api.get(member_url, headers=DEMO)).status_code == 404


async def test_member_lists_shared_image_by_status(api: httpx.AsyncClient) -> None:
    resp = await api.post("/image/v2/images", headers=ADMIN, json={"visibility": "shared"})
    image_id = resp.json()["id"]
    url = f"/image/v2/images/{image_id}/members"
    assert (await api.post(url, json={"member": DEMO_PROJECT}, headers=ADMIN)).is_success

    async def demo_sees(query: str = "") -> bool:
        body = (await api.get(f"/image/v2/images{query}", headers=DEMO)).json()
        return image_id in {i["id"] for i in body["images"]}

    assert (await api.get(f"/image/v2/images/{image_id}", headers=DEMO)).status_code == 200
    assert not await demo_sees()
    assert await demo_sees("?member_status=pending")
    assert await demo_sees("?member_status=all")
    await api.put(f"{url}/{DEMO_PROJECT}", json={"status": "accepted"}, headers=DEMO)
    assert await demo_sees()
    assert [m["member_id"] for m in (await api.get(url, headers=DEMO)).json()["members"]] == [
        DEMO_PROJECT
    ]
    await api.put(f"{url}/{DEMO_PROJECT}", json={"status": "rejected"}, headers=DEMO)
    assert not await demo_sees()
    assert (await api.delete(f"{url}/{DEMO_PROJECT}", headers=DEMO)).status_code == 403


async def test_members_refused(api: httpx.AsyncClient) -> None:
    private = await demo_image(api, "private")
    url = f"/image/v2/images/{private}/members"
    resp = await api.post(url, json={"member": ADMIN_PROJECT}, headers=DEMO)
    assert resp.status_code == 403
    assert (await api.post(url, json={}, headers=DEMO)).status_code == 400
    assert (await api.get(f"{url}/nobody", headers=DEMO)).status_code == 404
    hidden = await api.post("/image/v2/images", headers=ADMIN, json={"visibility": "private"})
    other = f"/image/v2/images/{hidden.json()['id']}/members"
    assert (await api.get(other, headers=DEMO)).status_code == 404
    assert (await api.post(other, json={"member": DEMO_PROJECT}, headers=DEMO)).status_code == 404


async def test_deleting_image_removes_members(api: httpx.AsyncClient) -> None:
    image_id = await demo_image(api)
    url = f"/image/v2/images/{image_id}/members"
    await api.post(url, json={"member": ADMIN_PROJECT}, headers=DEMO)
    assert (await api.delete(f"/image/v2/images/{image_id}", headers=DEMO)).status_code == 204
    assert (await api.get(url, headers=ADMIN)).status_code == 404
