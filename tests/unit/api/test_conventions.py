"""The API conventions every service gets from cumulo.api: errors, ids, microversions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from cumulo import exception
from cumulo.api.app import PrefixDispatcher
from cumulo.api.auth import context
from cumulo.api.factory import JSON, service_app
from cumulo.api.microversion import APIVersion, VersionedAPI, api_version
from cumulo.api.request_id import RequestIdMiddleware
from cumulo.api.validation import read_json, validate
from cumulo.context import RequestContext
from cumulo.runtime import Runtime

TOKEN = {"X-Auth-Token": "admin-token"}


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=10)
    size: int


class ThingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thing: Thing


def _build(runtime: Runtime) -> httpx.AsyncClient:
    versions = VersionedAPI(
        "compute", APIVersion(2, 1), APIVersion(2, 90), "X-OpenStack-Nova-API-Version"
    )
    nova = service_app(runtime, title="t", style="nova", versions=versions)
    keystone = service_app(runtime, title="k", style="keystone")
    for app in (nova, keystone):

        @app.post("/things")
        async def create(request: Request, ctx: RequestContext = Depends(context)) -> JSON:
            body = validate(ThingBody, await read_json(request))
            logging.getLogger("test").info("made %s", body.thing.name)
            return JSON({"thing": body.thing.model_dump(), "user": ctx.user_id}, 201)

        @app.get("/missing")
        async def missing() -> JSON:
            raise exception.NotFound("Thing x could not be found.")

        @app.get("/boom")
        async def boom() -> JSON:
            raise RuntimeError("secret internal detail")

    @nova.get("/version")
    async def version(request: Request) -> JSON:
        return JSON({"version": str(api_version(request))})

    root = RequestIdMiddleware(PrefixDispatcher({"compute": nova, "identity": keystone}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=root), base_url="http://t")


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with _build(runtime) as c:
        yield c


async def test_valid_request_reaches_handler(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/compute/things", json={"thing": {"name": "a", "size": 1}}, headers=TOKEN
    )
    assert r.status_code == 201
    assert r.json()["thing"] == {"name": "a", "size": 1}


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b"{not json", {}, 400, "Malformed request body"),
        (b"", {}, 400, "Malformed request body"),
        (
            b'{"thing": {"name": "a", "size": 1}}',
            {"Content-Type": "text/plain"},
            415,
            "Unsupported Content-Type",
        ),
        (
            b'{"thing": {"name": "a", "size": "x"}}',
            {},
            400,
            "Invalid input for field/attribute size. Value: x. 'x' is not of type 'integer'",
        ),
        (
            b'{"thing": {"name": "a", "size": 1, "colour": 2}}',
            {},
            400,
            "Additional properties are not allowed ('colour' was unexpected)",
        ),
        (b'{"thing": {"size": 1}}', {}, 400, "'name' is a required property"),
        (b'{"thing": {"name": "abcdefghijk", "size": 1}}', {}, 400, "'abcdefghijk' is too long"),
        (b'{"other": {}}', {}, 400, "field/attribute"),
    ],
)
async def test_bad_bodies_get_nova_shaped_400s(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    r = await client.post(
        "/compute/things",
        content=body,
        headers={"Content-Type": "application/json", **TOKEN, **headers},
    )
    assert r.status_code == status
    (fault,) = r.json().values()
    assert fault["code"] == status
    assert fragment in fault["message"]


async def test_keystone_dialect(client: httpx.AsyncClient) -> None:
    r = await client.post("/identity/things", json={"thing": {"name": "a"}}, headers=TOKEN)
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": 400,
            "title": "Bad Request",
            "message": "Invalid input for field 'thing': 'size' is a required property",
        }
    }
    r = await client.get("/identity/missing")
    assert r.json()["error"] == {
        "code": 404,
        "title": "Not Found",
        "message": "Thing x could not be found.",
    }


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.post("/compute/things", json={})
    assert r.status_code == 401
    assert r.json()["unauthorized"]["code"] == 401
    r = await client.post("/compute/things", json={}, headers={"X-Auth-Token": "bogus"})
    assert r.status_code == 401


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    r = await client.get("/compute/nothing-here")
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["code"] == 404
    r = await client.delete("/compute/things", headers=TOKEN)
    assert r.status_code == 405
    assert "badMethod" in r.json()
    assert (await client.get("/nowhere")).status_code == 404


async def test_unexpected_error_is_a_logged_500_without_details(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    r = await client.get("/compute/boom")
    assert r.status_code == 500
    request_id = r.headers["x-openstack-request-id"]
    message = r.json()["computeFault"]["message"]
    assert request_id in message
    assert "secret internal detail" not in r.text
    assert any("secret internal detail" in (rec.exc_text or "") for rec in caplog.records)


async def test_request_id_is_made_honoured_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    from cumulo.log import RequestIdFilter

    r = await client.get("/compute/missing")
    made = r.headers["x-openstack-request-id"]
    assert made.startswith("req-")
    assert r.headers["x-compute-request-id"] == made
    mine = "req-12345678-1234-1234-1234-123456789012"
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="test"):
        r = await client.post(
            "/compute/things",
            json={"thing": {"name": "a", "size": 1}},
            headers={**TOKEN, "X-OpenStack-Request-ID": mine},
        )
    assert r.headers["x-openstack-request-id"] == mine
    assert [rec.request_id for rec in caplog.records if rec.name == "test"] == [mine]
    r = await client.get("/identity/missing", headers={"X-OpenStack-Request-ID": "evil\nvalue"})
    assert r.headers["x-openstack-request-id"] != "evil\nvalue"
    assert "x-compute-request-id" not in r.headers


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "2.1"),
        ({"OpenStack-API-Version": "compute 2.42"}, "2.42"),
        ({"X-OpenStack-Nova-API-Version": "2.7"}, "2.7"),
        ({"OpenStack-API-Version": "compute latest"}, "2.90"),
        ({"OpenStack-API-Version": "volume 3.5, compute 2.3"}, "2.3"),
    ],
)
async def test_microversion_negotiated_and_echoed(
    client: httpx.AsyncClient, headers: dict[str, str], expected: str
) -> None:
    r = await client.get("/compute/version", headers=headers)
    assert r.json() == {"version": expected}
    assert r.headers["openstack-api-version"] == f"compute {expected}"
    assert r.headers["x-openstack-nova-api-version"] == expected
    assert "OpenStack-API-Version" in r.headers["vary"]


@pytest.mark.parametrize(
    ("value", "status", "fragment"),
    [
        (
            "compute 2.91",
            406,
            "Version 2.91 is not supported by the API. Minimum is 2.1 and maximum is 2.90.",
        ),
        ("compute 3.0", 406, "not supported"),
        ("compute 2.x", 400, "is of invalid format"),
    ],
)
async def test_bad_microversions(
    client: httpx.AsyncClient, value: str, status: int, fragment: str
) -> None:
    r = await client.get("/compute/version", headers={"OpenStack-API-Version": value})
    assert r.status_code == status
    assert fragment in r.text
    assert r.headers["openstack-api-version"] == "compute 2.1"


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    big = b'{"thing": {"name": "' + b"a" * 2_000_000 + b'", "size": 1}}'
    r = await client.post(
        "/compute/things", content=big, headers={**TOKEN, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert "overLimit" in r.json()


@pytest.mark.parametrize(
    ("style", "exc", "body"),
    [
        (
            "neutron",
            exception.NotFound("Network x could not be found."),
            {
                "NeutronError": {
                    "type": "HTTPNotFound",
                    "message": "Network x could not be found.",
                    "detail": "",
                }
            },
        ),
        (
            "glance",
            exception.NotFound("No image found with ID x"),
            {"code": "404 Not Found", "title": "Not Found", "message": "No image found with ID x"},
        ),
    ],
)
def test_neutron_and_glance_dialects(style: str, exc: exception.CumuloError, body: object) -> None:
    from cumulo.api.errors import error_response

    assert orjson.loads(error_response(style, exc).body) == body  # type: ignore[arg-type]


def test_neutron_type_names_the_domain_error() -> None:
    from cumulo.api.errors import error_response

    class NetworkNotFound(exception.NotFound):
        message = "Network %(net_id)s could not be found."

    body = orjson.loads(error_response("neutron", NetworkNotFound(net_id="n1")).body)
    assert body["NeutronError"]["type"] == "NetworkNotFound"
    assert body["NeutronError"]["message"] == "Network n1 could not be found."
