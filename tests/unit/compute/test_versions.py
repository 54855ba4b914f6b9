"""Version discovery, without a token, in the shapes keystoneauth and gophercloud parse."""

from __future__ import annotations

import httpx

from cumulo.compute.microversions import MAX_VERSION

BASE = "http://cumulo.test/compute"


async def test_root_lists_both_versions(api: httpx.AsyncClient) -> None:
    r = await api.get("/compute")
    assert r.status_code == 200
    assert r.json() == {
        "versions": [
            {
                "id": "v2.0",
                "status": "DEPRECATED",
                "version": "",
                "min_version": "",
                "updated": "2025-07-04T12:00:00Z",
                "links": [{"rel": "self", "href": f"{BASE}/v2/"}],
            },
            {
                "id": "v2.1",
                "status": "CURRENT",
                "version": "2.100",
                "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{BASE}/v2.1/"}],
            },
        ]
    }
    assert (await api.get("/compute/")).json() == r.json()


async def test_v21_document(api: httpx.AsyncClient) -> None:
    expected = {
        "version": {
            "id": "v2.1",
            "status": "CURRENT",
            "version": str(MAX_VERSION),
            "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [
                {"rel": "self", "href": f"{BASE}/v2.1/"},
                {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
            ],
            "media-types": [
                {
                    "base": "application/json",
                    "type": "application/vnd.openstack.compute+json;version=2.1",
                }
            ],
        }
    }
    for path in ("/compute/v2.1", "/compute/v2.1/"):
        r = await api.get(path)
        assert r.status_code == 200, path
        assert r.json() == expected


async def test_everything_else_needs_a_token(api: httpx.AsyncClient) -> None:
    for path in (
        "/compute/v2.1/flavors",
        "/compute/v2.1/os-keypairs",
        "/compute/v2.1/limits",
        "/compute/v2.1/os-availability-zone",
    ):
        r = await api.get(path)
        assert r.status_code == 401, path
        assert "unauthorized" in r.json()
