from __future__ import annotations

import httpx

from tests.fakes import ADMIN_PROJECT, DEMO_PROJECT


async def test_project_limits(api: httpx.AsyncClient) -> None:
    r = await api.get(f"/volume/v3/{DEMO_PROJECT}/limits", headers={"X-Auth-Token": "demo-token"})
    assert r.status_code == 200
    absolute = r.json()["limits"]["absolute"]
    assert absolute["maxTotalVolumes"] == 10
    assert absolute["maxTotalVolumeGigabytes"] == 1000
    assert absolute["totalVolumesUsed"] == 0
    assert r.json()["limits"]["rate"] == []
    assert r.headers["openstack-api-version"] == "volume 3.0"


async def test_other_projects_limits_are_refused(api: httpx.AsyncClient) -> None:
    r = await api.get(f"/volume/v3/{ADMIN_PROJECT}/limits", headers={"X-Auth-Token": "demo-token"})
    assert r.status_code == 403
    assert r.json()["forbidden"]["code"] == 403
    r = await api.get(f"/volume/v3/{DEMO_PROJECT}/limits", headers={"X-Auth-Token": "admin-token"})
    assert r.status_code == 200


async def test_version_documents_need_no_token(api: httpx.AsyncClient) -> None:
    for path, status in [
        ("/volume", 300),
        ("/volume/v3/", 200),
        ("/image", 300),
        ("/networking", 200),
        ("/compute", 200),
        ("/identity", 300),
    ]:
        r = await api.get(path)
        assert r.status_code == status, path
