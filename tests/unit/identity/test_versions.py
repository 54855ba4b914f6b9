"""Version discovery: unauthenticated, in Keystone's shapes, links from the request's host."""

from __future__ import annotations

import httpx

V3 = {
    "id": "v3.14",
    "status": "stable",
    "updated": "2020-04-07T00:00:00Z",
    "links": [{"rel": "self", "href": "http://cumulo.test/identity/v3/"}],
    "media-types": [
        {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
    ],
}


async def test_root_lists_v3_with_300(keystone: httpx.AsyncClient) -> None:
    for path in ("/identity", "/identity/"):
        response = await keystone.get(path)
        assert response.status_code == 300
        assert response.json() == {"versions": {"values": [V3]}}


async def test_v3_document_with_and_without_slash(keystone: httpx.AsyncClient) -> None:
    for path in ("/identity/v3", "/identity/v3/"):
        response = await keystone.get(path)
        assert response.status_code == 200
        assert response.json() == {"version": V3}


async def test_links_follow_the_host_the_client_used(keystone: httpx.AsyncClient) -> None:
    response = await keystone.get("/identity/v3", headers={"Host": "cloud.example:5000"})
    assert (
        response.json()["version"]["links"][0]["href"] == "http://cloud.example:5000/identity/v3/"
    )


async def test_unknown_path_is_keystone_404(keystone: httpx.AsyncClient) -> None:
    response = await keystone.get("/identity/v3/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404
