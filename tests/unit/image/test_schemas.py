"""``/v2/schemas/*``: the shapes glanceclient reads."""

from __future__ import annotations

import httpx

DEMO = {"X-Auth-Token": "demo-token"}


async def get(api: httpx.AsyncClient, name: str) -> dict:
    resp = await api.get(f"/image/v2/schemas/{name}", headers=DEMO)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_image_schema_describes_what_images_show(api: httpx.AsyncClient) -> None:
    schema = await get(api, "image")
    assert schema["name"] == "image"
    assert schema["additionalProperties"] == {"type": "string"}
    assert schema["links"] == [
        {"rel": "self", "href": "{self}"},
        {"rel": "enclosure", "href": "{file}"},
        {"rel": "describedby", "href": "{schema}"},
    ]
    props = schema["properties"]
    created = await api.post("/image/v2/images", json={"name": "x"}, headers=DEMO)
    assert set(created.json()) <= set(props)
    assert props["status"]["readOnly"] is True and "killed" in props["status"]["enum"]
    assert props["visibility"]["enum"] == ["public", "community", "shared", "private"]
    assert props["disk_format"]["enum"][0] is None and "qcow2" in props["disk_format"]["enum"]
    assert props["os_distro"]["is_base"] is False
    assert props["size"]["type"] == ["null", "integer"]


async def test_collection_and_member_schemas(api: httpx.AsyncClient) -> None:
    images = await get(api, "images")
    assert images["name"] == "images"
    assert images["properties"]["images"]["items"] == await get(api, "image")
    assert {link["rel"] for link in images["links"]} == {"first", "next", "describedby"}
    member = await get(api, "member")
    assert member["name"] == "member"
    assert set(member["properties"]) == {
        "created_at",
        "updated_at",
        "image_id",
        "member_id",
        "status",
        "schema",
    }
    members = await get(api, "members")
    assert members["properties"]["members"]["items"] == member
    assert members["links"] == [{"rel": "describedby", "href": "{schema}"}]


async def test_schemas_need_a_token(api: httpx.AsyncClient) -> None:
    assert (await api.get("/image/v2/schemas/image")).status_code == 401
