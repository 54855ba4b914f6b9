"""The route table: every route is served, documented, and reachable in the project-id form."""

from __future__ import annotations

import httpx

from cumulo.compute.routes import ROUTES
from tests.fakes import DEMO_PROJECT
from tests.unit.compute.conftest import ADMIN, DEMO, fault


async def test_every_route_is_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/compute/openapi.json")).json()["paths"]
    for route in ROUTES:
        if route.path.startswith("/v2.1/") and route.path != "/v2.1/":
            assert route.method.lower() in paths[route.path], route


async def test_project_id_form_reaches_the_same_routes(api: httpx.AsyncClient) -> None:
    base = f"/compute/v2.1/{DEMO_PROJECT}"
    r = await api.get(f"{base}/os-keypairs", headers=DEMO)
    assert r.json() == {"keypairs": []}
    r = await api.get(f"{base}/limits", headers=DEMO)
    assert r.status_code == 200
    r = await api.get(f"{base}/os-availability-zone", headers=ADMIN)
    assert r.status_code == 400
    assert fault(r)["message"].startswith("Malformed request URL")


async def test_unknown_paths_and_methods(api: httpx.AsyncClient) -> None:
    r = await api.get("/compute/v2.1/nothing", headers=ADMIN)
    assert r.status_code == 404
    assert "itemNotFound" in r.json()
    r = await api.patch("/compute/v2.1/flavors", headers=ADMIN)
    assert r.status_code == 405
    assert "badMethod" in r.json()
