"""The microversion history is one ordered, gap-free list; negotiation answers as Nova does."""

from __future__ import annotations

import httpx
import pytest

from cumulo.api.microversion import APIVersion
from cumulo.compute.microversions import (
    HISTORY,
    MAX_VERSION,
    MIN_VERSION,
    SINCE,
    Feature,
    pick,
    supports,
)
from tests.unit.compute.conftest import ADMIN, fault


def test_history_is_ordered_and_contiguous() -> None:
    versions = [m.version for m in HISTORY]
    assert versions[0] == APIVersion(2, 1)
    assert versions == [APIVersion(2, minor) for minor in range(1, len(versions) + 1)]
    assert (MIN_VERSION, MAX_VERSION) == (versions[0], versions[-1])
    assert all(m.change for m in HISTORY)


def test_every_feature_appears_exactly_once() -> None:
    named = [f for m in HISTORY for f in m.features]
    assert sorted(named, key=lambda f: f.name) == sorted(Feature, key=lambda f: f.name)
    assert SINCE[Feature.FLAVOR_DESCRIPTION] == APIVersion(2, 55)
    assert SINCE[Feature.KEYPAIR_IMPORT_ONLY] == APIVersion(2, 92)


def test_pick_takes_the_newest_applicable_entry() -> None:
    table = {None: "a", Feature.KEYPAIR_TYPE: "b", Feature.KEYPAIR_USER_ID: "c"}
    assert pick(APIVersion(2, 1), table) == "a"
    assert pick(APIVersion(2, 9), table) == "b"
    assert pick(APIVersion(2, 100), table) == "c"
    assert supports(APIVersion(2, 2), Feature.KEYPAIR_TYPE)
    assert not supports(APIVersion(2, 1), Feature.KEYPAIR_TYPE)
    with pytest.raises(LookupError):
        pick(APIVersion(2, 1), {Feature.KEYPAIR_TYPE: "b"})


async def test_max_advertised_is_the_history_max(api: httpx.AsyncClient) -> None:
    document = (await api.get("/compute/v2.1")).json()["version"]
    assert document["version"] == str(HISTORY[-1].version)
    assert document["min_version"] == str(HISTORY[0].version)


@pytest.mark.parametrize(
    ("headers", "echoed"),
    [
        ({}, "2.1"),
        ({"OpenStack-API-Version": "compute 2.61"}, "2.61"),
        ({"X-OpenStack-Nova-API-Version": "2.10"}, "2.10"),
        ({"OpenStack-API-Version": "compute latest"}, "2.100"),
        ({"OpenStack-API-Version": "volume 3.5"}, "2.1"),
    ],
)
async def test_version_is_echoed(
    api: httpx.AsyncClient, headers: dict[str, str], echoed: str
) -> None:
    r = await api.get("/compute/v2.1/flavors", headers={**ADMIN, **headers})
    assert r.status_code == 200
    assert r.headers["openstack-api-version"] == f"compute {echoed}"
    assert r.headers["x-openstack-nova-api-version"] == echoed
    assert "OpenStack-API-Version" in r.headers["vary"]


@pytest.mark.parametrize("header", ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"])
async def test_unsupported_version_is_406(api: httpx.AsyncClient, header: str) -> None:
    value = "compute 2.999" if header == "OpenStack-API-Version" else "2.999"
    r = await api.get("/compute/v2.1/flavors", headers={**ADMIN, header: value})
    assert r.status_code == 406
    assert fault(r)["message"] == (
        "Version 2.999 is not supported by the API. Minimum is 2.1 and maximum is 2.100."
    )
    assert "notAcceptable" in r.json()


async def test_garbage_version_is_400_as_in_nova(api: httpx.AsyncClient) -> None:
    r = await api.get(
        "/compute/v2.1/flavors", headers={**ADMIN, "OpenStack-API-Version": "compute two"}
    )
    assert r.status_code == 400
    assert "API Version String two is of invalid format" in fault(r)["message"]


async def test_errors_echo_the_version_too(api: httpx.AsyncClient) -> None:
    r = await api.get(
        "/compute/v2.1/flavors/nope", headers={**ADMIN, "OpenStack-API-Version": "compute 2.55"}
    )
    assert r.status_code == 404
    assert r.headers["openstack-api-version"] == "compute 2.55"
    assert r.headers["x-compute-request-id"] == r.headers["x-openstack-request-id"]
