"""Bad requests to each API, sent over HTTP to a running cumulo: each gets its 4xx and shape."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import yaml

from tests.functional.cloud import Cloud


@pytest.fixture(scope="module")
def http(cloud: Cloud) -> Iterator[httpx.Client]:
    auth = yaml.safe_load(cloud.clouds_yaml.read_text())["clouds"]["cumulo"]["auth"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"id": "default"},
                        "password": auth["password"],
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    with httpx.Client(base_url=cloud.url, timeout=30) as client:
        r = client.post("/identity/v3/auth/tokens", json=body)
        assert r.status_code == 201
        client.headers["X-Auth-Token"] = r.headers["X-Subject-Token"]
        client.headers["X-Project-Id"] = r.json()["token"]["project"]["id"]
        yield client


JSON = {"Content-Type": "application/json"}

# (method, path, headers, body, status, dialect key, message fragment)
CASES = [
    ("POST", "/compute/v2.1/flavors", JSON, b"{bad", 400, "badRequest", "Malformed request body"),
    (
        "POST",
        "/compute/v2.1/flavors",
        {"Content-Type": "text/plain"},
        b"{}",
        415,
        "badMediaType",
        "Unsupported Content-Type",
    ),
    (
        "POST",
        "/compute/v2.1/flavors",
        JSON,
        b'{"flavor": {"name": "x", "ram": "lots", "vcpus": 1, "disk": 1}}',
        400,
        "badRequest",
        "ram",
    ),
    (
        "POST",
        "/compute/v2.1/flavors",
        JSON,
        b'{"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "colour": "red"}}',
        400,
        "badRequest",
        "'colour' was unexpected",
    ),
    (
        "POST",
        "/compute/v2.1/flavors",
        JSON,
        b'{"flavor": {"name": "' + b"n" * 300 + b'", "ram": 1, "vcpus": 1, "disk": 1}}',
        400,
        "badRequest",
        "name",
    ),
    (
        "POST",
        "/compute/v2.1/os-keypairs",
        JSON,
        b'{"keypair": {"name": "k", "public_key": "junk"}}',
        400,
        "badRequest",
        "Keypair data is invalid",
    ),
    (
        "GET",
        "/compute/v2.1/flavors/no-such-flavor",
        {},
        b"",
        404,
        "itemNotFound",
        "Flavor no-such-flavor could not be found.",
    ),
    (
        "GET",
        "/compute/v2.1/flavors",
        {"OpenStack-API-Version": "compute 2.999"},
        b"",
        406,
        "notAcceptable",
        "Version 2.999 is not supported by the API",
    ),
    ("DELETE", "/compute/v2.1/limits", {}, b"", 405, "badMethod", ""),
    (
        "POST",
        "/identity/v3/projects",
        JSON,
        b"{bad",
        400,
        "error",
        "Expecting to find valid JSON in request body",
    ),
    (
        "POST",
        "/identity/v3/projects",
        JSON,
        b'{"project": {}}',
        400,
        "error",
        "'name' is a required property",
    ),
    (
        "POST",
        "/identity/v3/projects",
        JSON,
        b'{"project": {"name": "p", "enabled": "maybe"}}',
        400,
        "error",
        "enabled",
    ),
    (
        "POST",
        "/identity/v3/users",
        JSON,
        b'{"user": {"name": "' + b"u" * 300 + b'"}}',
        400,
        "error",
        "name",
    ),
    ("GET", "/identity/v3/projects/nope", {}, b"", 404, "error", "Could not find project: nope."),
    (
        "POST",
        "/identity/v3/auth/tokens",
        JSON,
        b'{"auth": {"identity": {"methods": ["password"]}}}',
        400,
        "error",
        "",
    ),
    (
        "GET",
        "/volume/v3/x/limits",
        {"OpenStack-API-Version": "volume 4.0"},
        b"",
        406,
        "notAcceptable",
        "Version 4.0 is not supported",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "key", "fragment"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[4]}-{i}" for i, c in enumerate(CASES)],
)
def test_malformed_request(
    http: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    key: str,
    fragment: str,
) -> None:
    r = http.request(method, path, headers=headers, content=body or None)
    assert r.status_code == status, r.text
    fault = r.json()[key]
    assert fault["code"] == status
    assert fragment in fault["message"]
    assert r.headers["x-openstack-request-id"].startswith("req-")


def test_project_created_by_a_bad_request_is_not_left_behind(http: httpx.Client) -> None:
    r = http.post("/identity/v3/projects", json={"project": {"name": "half", "enabled": "maybe"}})
    assert r.status_code == 400
    assert http.get("/identity/v3/projects", params={"name": "half"}).json()["projects"] == []


def test_anonymous_requests_are_refused_but_versions_are_public(cloud: Cloud) -> None:
    with httpx.Client(base_url=cloud.url) as anon:
        for path in (
            "/identity",
            "/identity/v3",
            "/compute",
            "/compute/v2.1",
            "/image",
            "/networking",
            "/volume",
            "/volume/v3/",
        ):
            assert anon.get(path).status_code in (200, 300), path
        r = anon.get("/compute/v2.1/flavors")
        assert r.status_code == 401
        assert r.json()["unauthorized"]["code"] == 401
        r = anon.get("/identity/v3/projects")
        assert r.json()["error"]["code"] == 401
        assert "requires authentication" in r.json()["error"]["message"]
        for prefix in ("identity", "compute", "image", "networking", "volume"):
            doc = anon.get(f"/{prefix}/openapi.json")
            assert doc.status_code == 200 and doc.json()["openapi"].startswith("3."), prefix
