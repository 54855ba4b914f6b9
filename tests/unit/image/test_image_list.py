"""GET /v2/images: Glance's filters, sorting and pages, done in SQL."""

from __future__ import annotations

import datetime

import httpx

from tests.fakes import ADMIN_PROJECT, DEMO_PROJECT

ADMIN = {"X-Auth-Token": "admin-token"}
DEMO = {"X-Auth-Token": "demo-token"}
OCTETS = {**DEMO, "Content-Type": "application/octet-stream"}


async def create(api: httpx.AsyncClient, headers: dict[str, str] = DEMO, **body: object) -> str:
    resp = await api.post("/image/v2/images", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def ids(api: httpx.AsyncClient, query: str, headers: dict[str, str] = DEMO) -> set[str]:
    resp = await api.get(f"/image/v2/images?{query}", headers=headers)
    assert resp.status_code == 200, (query, resp.text)
    return {i["id"] for i in resp.json()["images"]}


async def refused(api: httpx.AsyncClient, query: str) -> str:
    resp = await api.get(f"/image/v2/images?{query}", headers=DEMO)
    assert resp.status_code == 400, (query, resp.text)
    return str(resp.json()["message"])


async def test_column_filters(api: httpx.AsyncClient) -> None:
    qcow = await create(api, name="q", disk_format="qcow2", container_format="bare", protected=True)
    raw = await create(api, name="r", disk_format="raw", container_format="ovf")
    big = await create(api, name="big", disk_format="raw")
    await api.put(f"/image/v2/images/{raw}/file", content=b"x" * 10, headers=OCTETS)
    await api.put(f"/image/v2/images/{big}/file", content=b"x" * 1000, headers=OCTETS)
    assert await ids(api, "disk_format=qcow2") == {qcow}
    assert await ids(api, "container_format=ovf") == {raw}
    assert await ids(api, "disk_format=in:qcow2,raw") == {qcow, raw, big}
    assert await ids(api, "name=in:q,r") == {qcow, raw}
    assert await ids(api, "protected=true") == {qcow}
    assert await ids(api, "protected=false") == {raw, big}
    assert await ids(api, "status=active") == {raw, big}
    assert await ids(api, "size_min=11") == {big}
    assert await ids(api, "size_max=10") == {raw}
    assert await ids(api, "size_min=5&size_max=2000") == {raw, big}


async def test_time_filters(api: httpx.AsyncClient) -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(
        seconds=1
    )
    image = await create(api, name="t")
    stamp = before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await ids(api, f"created_at=gte:{stamp}") == {image}
    assert await ids(api, f"created_at=lt:{stamp}") == set()
    assert await ids(api, f"updated_at=gt:{stamp}") == {image}
    assert "created_at" in await refused(api, "created_at=gte:yesterday")


async def test_visibility_and_member_status(api: httpx.AsyncClient) -> None:
    mine = await create(api, name="mine")
    private = await create(api, ADMIN, name="private", visibility="private")
    public = await create(api, ADMIN, name="public", visibility="public")
    community = await create(api, ADMIN, name="community", visibility="community")
    shared = {
        status: await create(api, ADMIN, name=status)
        for status in ("pending", "accepted", "rejected")
    }
    for status, image_id in shared.items():
        url = f"/image/v2/images/{image_id}/members"
        assert (await api.post(url, json={"member": DEMO_PROJECT}, headers=ADMIN)).is_success
        if status != "pending":
            member = await api.put(f"{url}/{DEMO_PROJECT}", json={"status": status}, headers=DEMO)
            assert member.is_success
    assert await ids(api, "") == {mine, public, shared["accepted"]}
    assert await ids(api, "member_status=pending") == {mine, public, shared["pending"]}
    assert await ids(api, "visibility=shared&member_status=all") == {mine, *shared.values()}
    assert await ids(api, "visibility=shared&member_status=rejected") == {mine, shared["rejected"]}
    assert await ids(api, "visibility=all") == {mine, public, community, *shared.values()}
    assert private not in await ids(api, "visibility=all&member_status=all")
    assert await ids(api, f"owner={ADMIN_PROJECT}&visibility=all") == {
        public,
        community,
        *shared.values(),
    }
    assert private in await ids(api, "visibility=private", ADMIN)
    assert "visibility" in await refused(api, "visibility=everyone")
    assert await refused(api, "member_status=maybe") == "Invalid status: maybe"
    assert "protected" in await refused(api, "protected=maybe")
    assert "size_min" in await refused(api, "size_min=big")


async def test_sort_syntaxes(api: httpx.AsyncClient) -> None:
    made = {
        name: await create(api, name=name, min_ram=ram)
        for name, ram in (("b", 1), ("a", 1), ("c", 0))
    }

    async def order(query: str) -> list[str]:
        resp = await api.get(f"/image/v2/images?{query}", headers=DEMO)
        assert resp.status_code == 200, resp.text
        return [i["name"] for i in resp.json()["images"]]

    assert await order("sort=min_ram:desc,name:asc") == ["a", "b", "c"]
    assert await order("sort=name") == ["c", "b", "a"]  # Glance's default direction: desc
    assert await order("sort_key=min_ram&sort_key=name&sort_dir=asc&sort_dir=desc") == [
        "c",
        "b",
        "a",
    ]
    assert await order("sort_key=name&sort_dir=asc") == ["a", "b", "c"]
    assert len(made) == 3
    assert await refused(api, "sort=name:up") == "Invalid sort direction: up"
    assert (
        await refused(api, "sort=name&sort_key=name")
        == "Old and new sorting syntax cannot be combined"
    )
    assert (await refused(api, "sort_key=bogus")).startswith("Invalid sort key: bogus.")
    assert (
        await refused(api, "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc")
        == "Number of sort dirs does not match the number of sort keys"
    )
    assert await refused(api, "limit=-1") == "limit param must be positive"


async def test_pages_link_on_and_default_to_25(api: httpx.AsyncClient) -> None:
    for n in range(27):
        await create(api, name=f"img-{n:02d}")
    first = (await api.get("/image/v2/images?sort_key=name&sort_dir=asc", headers=DEMO)).json()
    assert len(first["images"]) == 25
    assert first["first"] == "/v2/images?sort_key=name&sort_dir=asc"
    assert first["next"].startswith("/v2/images?sort_key=name&sort_dir=asc&marker=")
    second = (await api.get("/image" + first["next"], headers=DEMO)).json()
    assert [i["name"] for i in second["images"]] == ["img-25", "img-26"]
    assert "next" not in second
    assert second["first"] == first["first"]


async def test_marker_must_be_visible(api: httpx.AsyncClient) -> None:
    await create(api, name="mine")
    hidden = await create(api, ADMIN, visibility="private")
    missing = "00000000-0000-4000-8000-000000000000"
    for marker in (hidden, missing):
        assert await refused(api, f"marker={marker}") == f"No image found with ID {marker}"
    assert (await api.get(f"/image/v2/images?marker={hidden}", headers=ADMIN)).status_code == 200
