"""Glance v2 image records over HTTP: create, show, list, patch, delete, isolation."""

from __future__ import annotations

import httpx

from tests.fakes import ADMIN_PROJECT, DEMO_PROJECT

ADMIN = {"X-Auth-Token": "admin-token"}
DEMO = {"X-Auth-Token": "demo-token"}
PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


async def create(api: httpx.AsyncClient, headers: dict[str, str] = DEMO, **body: object) -> dict:
    resp = await api.post("/image/v2/images", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_create_returns_glance_image_shape(api: httpx.AsyncClient) -> None:
    resp = await api.post(
        "/image/v2/images",
        headers=DEMO,
        json={
            "name": "cirros",
            "disk_format": "qcow2",
            "container_format": "bare",
            "min_disk": 1,
            "tags": ["a", "a", "b"],
            "hw_disk_bus": "virtio",
            "owner_specified.openstack.object": "images/cirros",
        },
    )
    assert resp.status_code == 201
    image = resp.json()
    assert resp.headers["location"] == f"/v2/images/{image['id']}"
    assert image["status"] == "queued"
    assert image["visibility"] == "shared"
    assert image["owner"] == DEMO_PROJECT
    assert image["checksum"] is None and image["size"] is None
    assert image["os_hash_algo"] is None
    assert image["tags"] == ["a", "b"]
    assert image["hw_disk_bus"] == "virtio"
    assert image["owner_specified.openstack.object"] == "images/cirros"
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"
    assert image["created_at"].endswith("Z") and len(image["created_at"]) == 20
    shown = await api.get(f"/image/v2/images/{image['id']}", headers=DEMO)
    assert shown.json() == image


async def test_create_with_id_and_duplicate(api: httpx.AsyncClient) -> None:
    image_id = "8a5e5e5e-1111-4222-8333-944444444444"
    assert (await create(api, id=image_id))["id"] == image_id
    again = await api.post("/image/v2/images", json={"id": image_id}, headers=DEMO)
    assert again.status_code == 409
    assert again.json()["code"] == "409 Conflict"


async def test_create_refuses_bad_input(api: httpx.AsyncClient) -> None:
    cases = [
        ({"disk_format": "exe"}, 400),
        ({"visibility": "everyone"}, 400),
        ({"min_ram": -1}, 400),
        ({"protected": "yes"}, 400),
        ({"hw_x": 3}, 400),
        ({"status": "active"}, 403),
        ({"size": 5}, 403),
        ({"deleted": True}, 403),
        ({"visibility": "public"}, 403),
        ({"owner": ADMIN_PROJECT}, 403),
    ]
    for body, code in cases:
        resp = await api.post("/image/v2/images", json=body, headers=DEMO)
        assert resp.status_code == code, (body, resp.text)
        assert resp.json()["code"].startswith(str(code))
    bad = await api.post("/image/v2/images", json=[1], headers=DEMO)
    assert bad.status_code == 400


async def test_admin_may_publish(api: httpx.AsyncClient) -> None:
    image = await create(api, ADMIN, visibility="public", name="pub")
    assert image["visibility"] == "public"
    seen = await api.get(f"/image/v2/images/{image['id']}", headers=DEMO)
    assert seen.status_code == 200


async def test_unauthenticated_is_refused(api: httpx.AsyncClient) -> None:
    assert (await api.get("/image/v2/images")).status_code == 401


async def test_private_images_of_others_are_not_found(api: httpx.AsyncClient) -> None:
    image = await create(api, ADMIN, visibility="private", name="secret")
    url = f"/image/v2/images/{image['id']}"
    resp = await api.get(url, headers=DEMO)
    assert resp.status_code == 404
    assert resp.json() == {
        "code": "404 Not Found",
        "title": "Not Found",
        "message": f"No image found with ID {image['id']}",
    }
    assert (await api.delete(url, headers=DEMO)).status_code == 404
    assert (await api.patch(url, json=[], headers={**DEMO, **PATCH})).status_code == 404
    assert (await api.put(url + "/file", content=b"x", headers=DEMO)).status_code == 404
    assert (await api.get(url + "/file", headers=DEMO)).status_code == 404
    listed = (await api.get("/image/v2/images", headers=DEMO)).json()["images"]
    assert image["id"] not in [i["id"] for i in listed]


async def test_public_image_of_others_cannot_be_changed(api: httpx.AsyncClient) -> None:
    image = await create(api, ADMIN, visibility="public")
    url = f"/image/v2/images/{image['id']}"
    assert (await api.delete(url, headers=DEMO)).status_code == 403
    ops = [{"op": "replace", "path": "/name", "value": "mine"}]
    assert (await api.patch(url, json=ops, headers={**DEMO, **PATCH})).status_code == 403


async def test_list_filters(api: httpx.AsyncClient) -> None:
    a = await create(api, name="alpha", tags=["red"], os_distro="cirros")
    b = await create(api, name="beta", visibility="private", tags=["red", "blue"])
    c = await create(api, ADMIN, name="gamma", visibility="public")

    async def ids(query: str, headers: dict[str, str] = DEMO) -> set[str]:
        resp = await api.get(f"/image/v2/images{query}", headers=headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["schema"] == "/v2/schemas/images"
        return {i["id"] for i in body["images"]}

    assert await ids("") == {a["id"], b["id"], c["id"]}
    assert await ids("?name=alpha") == {a["id"]}
    assert await ids("?visibility=private") == {b["id"]}
    assert await ids("?visibility=public") == {c["id"]}
    assert await ids("?tag=red") == {a["id"], b["id"]}
    assert await ids("?tag=red&tag=blue") == {b["id"]}
    assert await ids(f"?owner={ADMIN_PROJECT}") == {c["id"]}
    assert await ids("?status=queued") == {a["id"], b["id"], c["id"]}
    assert await ids("?status=active") == set()
    assert await ids(f"?id=in:{a['id']},{c['id']}") == {a["id"], c["id"]}
    assert await ids("?os_distro=cirros") == {a["id"]}
    assert await ids("?member_status=accepted") == {a["id"], b["id"], c["id"]}


async def test_pagination_and_sorting(api: httpx.AsyncClient) -> None:
    made = [await create(api, name=f"img-{n}") for n in range(5)]
    names = [i["name"] for i in made]
    seen: list[str] = []
    url = "/image/v2/images?limit=2&sort_key=name&sort_dir=asc"
    first = (await api.get(url, headers=DEMO)).json()
    assert first["first"] == "/v2/images?limit=2&sort_key=name&sort_dir=asc"
    body = first
    while True:
        seen += [i["name"] for i in body["images"]]
        if "next" not in body:
            break
        assert body["next"].startswith("/v2/images?")
        body = (await api.get("/image" + body["next"], headers=DEMO)).json()
    assert seen == sorted(names)
    desc = (await api.get("/image/v2/images?sort_key=name&sort_dir=desc", headers=DEMO)).json()
    assert [i["name"] for i in desc["images"]] == sorted(names, reverse=True)


async def test_list_refuses_bad_parameters(api: httpx.AsyncClient) -> None:
    for query in (
        "?sort_key=bogus",
        "?sort_dir=up",
        "?limit=x",
        "?marker=00000000-0000-0000-0000-000000000000",
    ):
        resp = await api.get(f"/image/v2/images{query}", headers=DEMO)
        assert resp.status_code == 400, query


async def test_patch_updates_and_refuses(api: httpx.AsyncClient) -> None:
    image = await create(api, name="old", os_type="linux", hw_x="1")
    url = f"/image/v2/images/{image['id']}"
    ops = [
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "add", "path": "/tags", "value": ["t1"]},
        {"op": "add", "path": "/hw_qemu_guest_agent", "value": "yes"},
        {"op": "replace", "path": "/os_type", "value": "windows"},
        {"op": "remove", "path": "/hw_x"},
        {"op": "replace", "path": "/visibility", "value": "private"},
    ]
    resp = await api.patch(url, json=ops, headers={**DEMO, **PATCH})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"] == "new" and body["tags"] == ["t1"]
    assert body["hw_qemu_guest_agent"] == "yes" and body["os_type"] == "windows"
    assert "hw_x" not in body and body["visibility"] == "private"

    async def patch(op: dict, headers: dict[str, str] = PATCH) -> int:
        return (await api.patch(url, json=[op], headers={**DEMO, **headers})).status_code

    assert await patch({"op": "replace", "path": "/status", "value": "active"}) == 403
    assert await patch({"op": "replace", "path": "/id", "value": "x"}) == 403
    assert await patch({"op": "remove", "path": "/missing"}) == 409
    assert await patch({"op": "replace", "path": "/visibility", "value": "public"}) == 403
    assert await patch({"op": "move", "path": "/name"}) == 400
    assert await patch({"op": "add", "path": "/a/b", "value": "x"}) == 400
    assert await patch({"op": "add", "path": "/name"}) == 400
    assert await patch({"op": "add", "path": "/min_ram", "value": "lots"}) == 400
    assert (
        await patch(
            {"op": "replace", "path": "/name", "value": "x"}, {"Content-Type": "application/json"}
        )
        == 415
    )
    bad_body = await api.patch(url, content=b"{", headers={**DEMO, **PATCH})
    assert bad_body.status_code == 400
    not_list = await api.patch(url, json={}, headers={**DEMO, **PATCH})
    assert not_list.status_code == 400


async def test_delete_and_protected(api: httpx.AsyncClient) -> None:
    image = await create(api, protected=True)
    url = f"/image/v2/images/{image['id']}"
    resp = await api.delete(url, headers=DEMO)
    assert resp.status_code == 403
    assert "is protected" in resp.json()["message"]
    ops = [{"op": "replace", "path": "/protected", "value": False}]
    assert (await api.patch(url, json=ops, headers={**DEMO, **PATCH})).status_code == 200
    assert (await api.delete(url, headers=DEMO)).status_code == 204
    assert (await api.get(url, headers=DEMO)).status_code == 404
    assert (await api.delete(url, headers=DEMO)).status_code == 404


async def test_tags_put_and_delete(api: httpx.AsyncClient) -> None:
    image = await create(api, tags=["a"])
    url = f"/image/v2/images/{image['id']}"
    assert (await api.put(f"{url}/tags/b", headers=DEMO)).status_code == 204
    assert (await api.put(f"{url}/tags/b", headers=DEMO)).status_code == 204
    assert (await api.get(url, headers=DEMO)).json()["tags"] == ["a", "b"]
    assert (await api.delete(f"{url}/tags/a", headers=DEMO)).status_code == 204
    assert (await api.delete(f"{url}/tags/a", headers=DEMO)).status_code == 404
    assert (await api.put(f"{url}/tags/{'x' * 256}", headers=DEMO)).status_code == 400
    assert (await api.get(url, headers=DEMO)).json()["tags"] == ["b"]
    public = await create(api, ADMIN, visibility="public")
    denied = await api.put(f"/image/v2/images/{public['id']}/tags/x", headers=DEMO)
    assert denied.status_code == 403


async def test_next_link_keeps_filters(api: httpx.AsyncClient) -> None:
    for _ in range(3):
        await create(api, name="same name", os_distro="my os")
    body = (await api.get("/image/v2/images?limit=1&os_distro=my%20os", headers=DEMO)).json()
    assert body["next"].startswith("/v2/images?limit=1&os_distro=my+os&marker=")
    page2 = (await api.get("/image" + body["next"], headers=DEMO)).json()
    assert len(page2["images"]) == 1 and page2["images"][0]["id"] != body["images"][0]["id"]


async def test_hidden_images_are_listed_only_on_request(api: httpx.AsyncClient) -> None:
    hidden = await create(api, os_hidden=True)
    shown = await create(api)
    default = (await api.get("/image/v2/images", headers=DEMO)).json()["images"]
    assert [i["id"] for i in default] == [shown["id"]]
    asked = (await api.get("/image/v2/images?os_hidden=true", headers=DEMO)).json()["images"]
    assert [i["id"] for i in asked] == [hidden["id"]]


async def test_community_images(api: httpx.AsyncClient) -> None:
    image = await create(api, ADMIN, visibility="community")
    assert (await api.get(f"/image/v2/images/{image['id']}", headers=DEMO)).status_code == 200
    default = (await api.get("/image/v2/images", headers=DEMO)).json()["images"]
    assert image["id"] not in [i["id"] for i in default]
    asked = await api.get("/image/v2/images?visibility=community", headers=DEMO)
    assert [i["id"] for i in asked.json()["images"]] == [image["id"]]
