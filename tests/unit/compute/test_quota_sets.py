"""``/os-quota-sets``: what each microversion shows, admin updates and resets, validation."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes import DEMO_PROJECT
from tests.unit.compute.conftest import ADMIN, DEMO, OTHER_PROJECT, at, fault

QUOTA = f"/compute/v2.1/os-quota-sets/{DEMO_PROJECT}"
LATEST = {
    "cores": 20, "instances": 10, "key_pairs": 100, "metadata_items": 128, "ram": 51200,
    "server_groups": 10, "server_group_members": 10,
}  # fmt: skip


async def test_show_at_latest_has_only_compute_quotas(api: httpx.AsyncClient) -> None:
    r = await api.get(QUOTA, headers=at("2.100", DEMO))
    assert r.status_code == 200
    assert r.json() == {"quota_set": {"id": DEMO_PROJECT, **LATEST}}


@pytest.mark.parametrize(
    ("version", "extra"),
    [
        ("2.1", {"injected_files", "fixed_ips", "floating_ips", "security_groups"}),
        ("2.36", {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}),
        ("2.57", set()),
    ],
)
async def test_older_versions_show_older_quotas(
    api: httpx.AsyncClient, version: str, extra: set[str]
) -> None:
    shown = (await api.get(QUOTA, headers=at(version, DEMO))).json()["quota_set"]
    assert extra <= set(shown)
    assert set(LATEST) <= set(shown)
    if not extra:
        assert set(shown) == {"id", *LATEST}


async def test_detail_shows_limit_in_use_and_reserved(api: httpx.AsyncClient) -> None:
    r = await api.get(QUOTA + "/detail", headers=at("2.56", DEMO))
    assert r.status_code == 200
    body = r.json()["quota_set"]
    assert body["id"] == DEMO_PROJECT
    assert body["cores"] == {"limit": 20, "in_use": 0, "reserved": 0}


async def test_another_project_is_forbidden_to_a_member(api: httpx.AsyncClient) -> None:
    r = await api.get(f"/compute/v2.1/os-quota-sets/{OTHER_PROJECT}", headers=DEMO)
    assert r.status_code == 403
    assert "compute:quota_sets:show" in fault(r)["message"]


async def test_admin_update_then_reset(api: httpx.AsyncClient) -> None:
    body = {"quota_set": {"cores": 4, "instances": "3", "ram": -1}}
    r = await api.put(QUOTA, json=body, headers=at("2.56"))
    assert r.status_code == 200, r.text
    updated = r.json()["quota_set"]
    assert "id" not in updated
    assert (updated["cores"], updated["instances"], updated["ram"]) == (4, 3, -1)
    shown = (await api.get(QUOTA, headers=DEMO)).json()["quota_set"]
    assert (shown["cores"], shown["instances"]) == (4, 3)
    limits = (await api.get("/compute/v2.1/limits", headers=DEMO)).json()["limits"]["absolute"]
    assert limits["maxTotalCores"] == 4

    r = await api.put(QUOTA, json={"quota_set": {"cores": 5}}, headers=ADMIN)
    assert (await api.get(QUOTA, headers=DEMO)).json()["quota_set"]["cores"] == 5

    r = await api.delete(QUOTA, headers=ADMIN)
    assert r.status_code == 202
    assert (await api.get(QUOTA, headers=DEMO)).json()["quota_set"]["cores"] == 20


async def test_defaults_ignore_project_rows(api: httpx.AsyncClient) -> None:
    await api.put(QUOTA, json={"quota_set": {"cores": 4}}, headers=ADMIN)
    r = await api.get(QUOTA + "/defaults", headers=at("2.100", DEMO))
    assert r.json() == {"quota_set": {"id": DEMO_PROJECT, **LATEST}}


async def test_member_cannot_update(api: httpx.AsyncClient) -> None:
    r = await api.put(QUOTA, json={"quota_set": {"cores": 100}}, headers=DEMO)
    assert r.status_code == 403
    assert (await api.get(QUOTA, headers=DEMO)).json()["quota_set"]["cores"] == 20


@pytest.mark.parametrize(
    ("version", "body", "words"),
    [
        ("2.1", {"quota_set": {"cores": -2}}, "less than the minimum of -1"),
        ("2.1", {"quota_set": {"cores": "many"}}, "does not match"),
        ("2.1", {"quota_set": {"cores": True}}, "is not of type"),
        ("2.1", {"quota_set": {"bogus": 1}}, "'bogus' was unexpected"),
        ("2.36", {"quota_set": {"floating_ips": 1}}, "'floating_ips' was unexpected"),
        ("2.57", {"quota_set": {"injected_files": 1}}, "'injected_files' was unexpected"),
        ("2.1", {"cores": 1}, "'quota_set' is a required property"),
    ],
)
async def test_bad_updates_are_400_and_change_nothing(
    api: httpx.AsyncClient, version: str, body: object, words: str
) -> None:
    r = await api.put(QUOTA, json=body, headers=at(version))
    assert r.status_code == 400, r.text
    assert words in fault(r)["message"]
    assert (await api.get(QUOTA, headers=DEMO)).json()["quota_set"]["cores"] == 20


async def test_user_quotas_are_refused_on_write(api: httpx.AsyncClient) -> None:
    r = await api.put(QUOTA + "?user_id=someone", json={"quota_set": {"cores": 1}}, headers=ADMIN)
    assert r.status_code == 400
    assert "Per-user quotas" in fault(r)["message"]


async def test_unknown_query_is_400_from_275(api: httpx.AsyncClient) -> None:
    assert (await api.get(QUOTA + "?foo=1", headers=at("2.74", DEMO))).status_code == 200
    assert (await api.get(QUOTA + "?foo=1", headers=at("2.75", DEMO))).status_code == 400
