"""The catalog: /v3/auth/catalog, services, endpoints and regions."""

from __future__ import annotations

import httpx

from tests.unit.identity.conftest import issue, login, password_auth

BASE = "http://cumulo.test/identity/v3"


async def test_auth_catalog_for_a_project_token(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await keystone.get("/identity/v3/auth/catalog", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["links"]["self"] == f"{BASE}/auth/catalog"
    types = sorted(s["type"] for s in body["catalog"])
    assert types == ["block-storage", "compute", "identity", "image", "network", "volumev3"]


async def test_auth_catalog_needs_a_project_scope(keystone: httpx.AsyncClient) -> None:
    unscoped = await issue(keystone, password_auth(project=None))
    headers = {"X-Auth-Token": unscoped.headers["X-Subject-Token"]}
    response = await keystone.get("/identity/v3/auth/catalog", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "You are not authorized to perform the requested action."
    )


async def test_auth_domains(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    body = (await keystone.get("/identity/v3/auth/domains", headers=admin_headers)).json()
    assert [d["id"] for d in body["domains"]] == ["default"]


async def test_service_and_endpoint_lifecycle(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await keystone.post(
        "/identity/v3/services",
        json={"service": {"type": "placement", "name": "placement", "description": "p"}},
        headers=admin_headers,
    )
    assert created.status_code == 201
    service = created.json()["service"]
    assert service == {
        "id": service["id"],
        "type": "placement",
        "name": "placement",
        "description": "p",
        "enabled": True,
        "links": {"self": f"{BASE}/services/{service['id']}"},
    }
    endpoint = await keystone.post(
        "/identity/v3/endpoints",
        json={
            "endpoint": {
                "service_id": service["id"],
                "interface": "public",
                "url": "http://cumulo.test/placement",
                "region_id": "RegionOne",
            }
        },
        headers=admin_headers,
    )
    assert endpoint.status_code == 201
    ep = endpoint.json()["endpoint"]
    assert ep["region"] == ep["region_id"] == "RegionOne"
    assert ep["links"]["self"] == f"{BASE}/endpoints/{ep['id']}"
    token = await issue(keystone, password_auth())
    catalog = {s["type"]: s for s in token.json()["token"]["catalog"]}
    assert catalog["placement"]["endpoints"][0]["url"] == "http://cumulo.test/placement"
    filtered = await keystone.get(
        f"/identity/v3/endpoints?service_id={service['id']}", headers=admin_headers
    )
    assert [e["id"] for e in filtered.json()["endpoints"]] == [ep["id"]]
    url = f"/identity/v3/services/{service['id']}"
    assert (await keystone.delete(url, headers=admin_headers)).status_code == 204
    gone = await keystone.get(f"/identity/v3/endpoints/{ep['id']}", headers=admin_headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == f"Could not find endpoint: {ep['id']}."
    assert (await keystone.get(url, headers=admin_headers)).json()["error"]["message"] == (
        f"Could not find service: {service['id']}."
    )


async def test_endpoint_refusals(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    services = (
        await keystone.get("/identity/v3/services?type=compute", headers=admin_headers)
    ).json()
    service_id = services["services"][0]["id"]
    cases = [
        (
            {"service_id": "nope", "interface": "public", "url": "http://x"},
            "Expecting to find endpoint service in services table.",
        ),
        (
            {
                "service_id": service_id,
                "interface": "public",
                "url": "http://x",
                "region_id": "Mars",
            },
            "Expecting to find endpoint region_id in region table.",
        ),
        (
            {"service_id": service_id, "interface": "sideways", "url": "http://x"},
            "Invalid input for field 'interface'",
        ),
        (
            {"service_id": service_id, "interface": "public", "url": "not a url"},
            "Invalid input for field 'url'",
        ),
    ]
    for body, message in cases:
        response = await keystone.post(
            "/identity/v3/endpoints", json={"endpoint": body}, headers=admin_headers
        )
        assert response.status_code == 400, body
        assert response.json()["error"]["message"].startswith(message)


async def test_legacy_region_key_creates_the_region(
    keystone: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    services = (
        await keystone.get("/identity/v3/services?type=image", headers=admin_headers)
    ).json()
    body = {
        "endpoint": {
            "service_id": services["services"][0]["id"],
            "interface": "internal",
            "url": "http://glance.internal",
            "region": "RegionTwo",
        }
    }
    created = await keystone.post("/identity/v3/endpoints", json=body, headers=admin_headers)
    assert created.status_code == 201
    region = await keystone.get("/identity/v3/regions/RegionTwo", headers=admin_headers)
    assert region.status_code == 200


async def test_regions(keystone: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    listing = (await keystone.get("/identity/v3/regions", headers=admin_headers)).json()
    assert listing["regions"] == [
        {
            "id": "RegionOne",
            "description": "",
            "parent_region_id": None,
            "links": {"self": f"{BASE}/regions/RegionOne"},
        }
    ]
    created = await keystone.post(
        "/identity/v3/regions", json={"region": {"id": "Edge"}}, headers=admin_headers
    )
    assert created.status_code == 201
    dup = await keystone.post(
        "/identity/v3/regions", json={"region": {"id": "Edge"}}, headers=admin_headers
    )
    assert dup.status_code == 409
    assert dup.json()["error"]["message"] == (
        "Conflict occurred attempting to store region - Duplicate entry found with ID Edge."
    )
    in_use = await keystone.delete("/identity/v3/regions/RegionOne", headers=admin_headers)
    assert in_use.status_code == 403
    assert (
        await keystone.delete("/identity/v3/regions/Edge", headers=admin_headers)
    ).status_code == 204
    missing = await keystone.get("/identity/v3/regions/Edge", headers=admin_headers)
    assert missing.json()["error"]["message"] == "Could not find region: Edge."


async def test_catalog_admin_needs_admin(
    keystone: httpx.AsyncClient, demo_headers: dict[str, str]
) -> None:
    for url in ("/identity/v3/services", "/identity/v3/endpoints"):
        response = await keystone.get(url, headers=demo_headers)
        assert response.status_code == 403
    regions = await keystone.get("/identity/v3/regions", headers=demo_headers)
    assert regions.status_code == 200  # any authenticated user may list regions


async def test_project_token_of_demo_has_its_own_volume_url(keystone: httpx.AsyncClient) -> None:
    token = await login(keystone, "demo", "demo-secret", "demo")
    response = await keystone.get(
        "/identity/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    body = response.json()["token"]
    volume = next(s for s in body["catalog"] if s["type"] == "volumev3")
    assert volume["endpoints"][0]["url"].endswith("/volume/v3/" + body["project"]["id"])
