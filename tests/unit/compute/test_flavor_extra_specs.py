"""Flavor extra specs: read by anyone who sees the flavor, written by admins, checked from 2.86."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.unit.compute.conftest import ADMIN, DEMO, at, fault, make_flavor

SPECS = "/compute/v2.1/flavors/tuned/os-extra_specs"


@pytest.fixture
async def tuned(api: httpx.AsyncClient) -> dict[str, Any]:
    return await make_flavor(api, "tuned", id="tuned")


async def test_write_read_delete(api: httpx.AsyncClient, tuned: dict[str, Any]) -> None:
    body = {"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": 1024}}
    r = await api.post(SPECS, json=body, headers=ADMIN)
    assert r.status_code == 200
    assert r.json() == body
    r = await api.get(SPECS, headers=DEMO)
    assert r.json() == {"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": "1024"}}
    r = await api.put(f"{SPECS}/hw:cpu_policy", json={"hw:cpu_policy": "shared"}, headers=ADMIN)
    assert r.status_code == 200
    assert r.json() == {"hw:cpu_policy": "shared"}
    r = await api.get(f"{SPECS}/hw:cpu_policy", headers=DEMO)
    assert r.json() == {"hw:cpu_policy": "shared"}
    flavor = await api.get("/compute/v2.1/flavors/tuned", headers=at("2.61", DEMO))
    assert flavor.json()["flavor"]["extra_specs"] == {
        "hw:cpu_policy": "shared", "quota:cpu_shares": "1024"
    }  # fmt: skip
    r = await api.delete(f"{SPECS}/hw:cpu_policy", headers=ADMIN)
    assert r.status_code == 200
    r = await api.get(f"{SPECS}/hw:cpu_policy", headers=ADMIN)
    assert r.status_code == 404
    assert fault(r)["message"] == "Flavor tuned has no extra specs with key hw:cpu_policy."
    r = await api.delete(f"{SPECS}/hw:cpu_policy", headers=ADMIN)
    assert r.status_code == 404


async def test_members_may_only_read(api: httpx.AsyncClient, tuned: dict[str, Any]) -> None:
    r = await api.post(SPECS, json={"extra_specs": {"a": "b"}}, headers=DEMO)
    assert r.status_code == 403
    r = await api.put(f"{SPECS}/a", json={"a": "b"}, headers=DEMO)
    assert r.status_code == 403
    r = await api.delete(f"{SPECS}/a", headers=DEMO)
    assert r.status_code == 403


async def test_unknown_flavor(api: httpx.AsyncClient) -> None:
    r = await api.get("/compute/v2.1/flavors/nope/os-extra_specs", headers=ADMIN)
    assert r.status_code == 404
    assert fault(r)["message"] == "Flavor nope could not be found."
    r = await api.post(
        "/compute/v2.1/flavors/nope/os-extra_specs", json={"extra_specs": {"a": "b"}}, headers=ADMIN
    )
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "version", "message"),
    [
        (
            "post",
            "",
            {"extra_specs": {"a/b": "x"}},
            "2.1",
            "Invalid input for field/attribute extra_specs. Value: {'a/b': 'x'}. 'a/b' does not "
            "match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'",
        ),
        (
            "post",
            "",
            {"extra_specs": {"a": True}},
            "2.1",
            "Invalid input for field/attribute a. Value: True. "
            "True is not of type 'string', 'number'",
        ),
        (
            "post",
            "",
            {"extra_specs": {"a": "v" * 256}},
            "2.1",
            f"Invalid input for field/attribute a. Value: {'v' * 256}. {'v' * 256!r} is too long",
        ),
        (
            "post",
            "",
            {"extra_specs": "x"},
            "2.1",
            "Invalid input for field/attribute extra_specs. Value: x. 'x' is not of type 'object'",
        ),
        ("post", "", {"specs": {}}, "2.1", "'extra_specs' is a required property"),
        (
            "post",
            "",
            {"extra_specs": {}, "more": 1},
            "2.1",
            "Additional properties are not allowed ('more' was unexpected)",
        ),
        ("put", "/a", {}, "2.1", "{} should be non-empty"),
        ("put", "/a", {"a": "1", "b": "2"}, "2.1", "{'a': '1', 'b': '2'} has too many properties"),
        ("put", "/a", {"b": "2"}, "2.1", "Request body and URI mismatch"),
        (
            "put",
            "/a",
            {"a/": "2"},
            "2.1",
            "'a/' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'",
        ),
        (
            "post",
            "",
            {"extra_specs": {"hw:cpu_policy": "fast"}},
            "2.86",
            "Validation failed; 'fast' is not one of: dedicated, shared, mixed.",
        ),
        (
            "post",
            "",
            {"extra_specs": {"hw:numa_nodes": 0}},
            "2.86",
            "Validation failed; '0' is less than the min value of '1'.",
        ),
        (
            "post",
            "",
            {"extra_specs": {"hw:no_such_thing": "1"}},
            "2.86",
            "Validation failed; extra spec 'hw:no_such_thing' does not appear to be a valid "
            "extra spec.",
        ),
        (
            "put",
            "/hw_rng:allowed",
            {"hw_rng:allowed": "perhaps"},
            "2.86",
            "Validation failed; 'perhaps' is not a valid boolean-like value.",
        ),
        (
            "post",
            "",
            {"extra_specs": {"resources:VCPU": "two"}},
            "2.86",
            "Validation failed; 'two' is not a valid integer value.",
        ),
    ],
)
async def test_bad_extra_specs(
    api: httpx.AsyncClient,
    tuned: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    version: str,
    message: str,
) -> None:
    r = await api.request(method.upper(), f"{SPECS}{path}", json=body, headers=at(version))
    assert r.status_code == 400, r.text
    assert fault(r)["message"] == message


async def test_known_specs_are_only_checked_from_286(
    api: httpx.AsyncClient, tuned: dict[str, Any]
) -> None:
    body = {"extra_specs": {"hw:cpu_policy": "fast", "custom:anything": "goes"}}
    assert (await api.post(SPECS, json=body, headers=at("2.85"))).status_code == 200
    good = {
        "extra_specs": {
            "hw:cpu_policy": "dedicated",
            "trait:HW_CPU_X86_AVX2": "required",
            "resources1:CUSTOM_GPU": "1",
            "custom:anything": "goes",
        }
    }
    assert (await api.post(SPECS, json=good, headers=at("2.86"))).status_code == 200
