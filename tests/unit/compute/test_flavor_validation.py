"""Malformed flavor bodies get Nova's status and Nova's words."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.unit.compute.conftest import ADMIN, at, fault

FLAVORS = "/compute/v2.1/flavors"
GOOD = {"name": "ok", "ram": 512, "vcpus": 1, "disk": 1}
FIELD = "Invalid input for field/attribute"
NAME_RULE = (
    "An invalid 'name' value was provided. The name must be: printable characters. "
    "Can not start or end with whitespace."
)


def flavor(**changes: Any) -> dict[str, Any]:
    return {"flavor": {**GOOD, **changes}}


CASES: list[tuple[Any, str, str]] = [
    (flavor(ram="abc"), "2.1", f"{FIELD} ram. Value: abc. 'abc' does not match '^[0-9]+$'"),
    (flavor(ram=0), "2.1", f"{FIELD} ram. Value: 0. 0 is less than the minimum of 1"),
    (flavor(vcpus=-1), "2.1", f"{FIELD} vcpus. Value: -1. -1 is less than the minimum of 1"),
    (flavor(ram=1.5), "2.1", f"{FIELD} ram. Value: 1.5. 1.5 is not of type 'integer', 'string'"),
    (flavor(ram=True), "2.1", f"{FIELD} ram. Value: True. True is not of type 'integer', 'string'"),
    (
        flavor(ram=2**31),
        "2.1",
        f"{FIELD} ram. Value: 2147483648. 2147483648 is greater than the maximum of 2147483647",
    ),
    (flavor(ram="0"), "2.1", f"{FIELD} ram. Value: 0. 0 is less than the minimum of 1"),
    (flavor(disk=-1), "2.1", f"{FIELD} disk. Value: -1. -1 is less than the minimum of 0"),
    (flavor(swap="1 "), "2.1", f"{FIELD} swap. Value: 1 . '1 ' does not match '^[0-9]+$'"),
    (
        flavor(**{"OS-FLV-EXT-DATA:ephemeral": "x"}),
        "2.1",
        f"{FIELD} OS-FLV-EXT-DATA:ephemeral. Value: x. 'x' does not match '^[0-9]+$'",
    ),
    (flavor(name=""), "2.1", f"{FIELD} name. Value: . '' should be non-empty"),
    (flavor(name=" padded"), "2.1", NAME_RULE),
    (flavor(name="tab\tinside"), "2.1", NAME_RULE),
    (flavor(name="x" * 256), "2.1", f"{FIELD} name. Value: {'x' * 256}. {'x' * 256!r} is too long"),
    (flavor(name=5), "2.1", f"{FIELD} name. Value: 5. 5 is not of type 'string'"),
    (
        flavor(id="bad/id"),
        "2.1",
        f"{FIELD} id. Value: bad/id. 'bad/id' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'",
    ),
    (
        flavor(id=True),
        "2.1",
        f"{FIELD} id. Value: True. True is not of type 'string', 'number', 'null'",
    ),
    (flavor(id=""), "2.1", f"{FIELD} id. Value: . '' should be non-empty"),
    (
        flavor(rxtx_factor=0),
        "2.1",
        f"{FIELD} rxtx_factor. Value: 0. 0 is less than or equal to the minimum of 0",
    ),
    (
        flavor(rxtx_factor="fast"),
        "2.1",
        rf"{FIELD} rxtx_factor. Value: fast. 'fast' does not match '^[0-9]+(\\.[0-9]+)?$'",
    ),
    (
        flavor(**{"os-flavor-access:is_public": "maybe"}),
        "2.1",
        f"{FIELD} os-flavor-access:is_public. Value: maybe. 'maybe' is not one of [True, 'True',…",
    ),
    (
        flavor(**{"os-flavor-access:is_public": 1}),
        "2.1",
        f"{FIELD} os-flavor-access:is_public. Value: 1. 1 is not of type 'boolean', 'string'",
    ),
    (
        {"flavor": {"name": "x", "vcpus": 1, "disk": 1}},
        "2.1",
        f"{FIELD} flavor. Value: {{'name': 'x', 'vcpus': 1, 'disk': 1}}. "
        "'ram' is a required property",
    ),
    (
        flavor(colour="red"),
        "2.1",
        f"{FIELD} flavor. Value: {{'name': 'ok', 'ram': 512, "
        "'vcpus': 1, 'disk': 1, 'colour': 'red'}. Additional properties are not allowed "
        "('colour' was unexpected)",
    ),
    (
        flavor(description="x"),
        "2.54",
        "…Additional properties are not allowed ('description' was unexpected)",
    ),
    (
        flavor(description="bad\x00char"),
        "2.55",
        f"{FIELD} description. Value: bad\x00char. 'bad\\x00char' does not match '^[…",
    ),
    (flavor(description="d" * 65536), "2.55", "…is too long"),
    (
        flavor(description=3),
        "2.55",
        f"{FIELD} description. Value: 3. 3 is not of type 'string', 'null'",
    ),
    ({"flavour": GOOD}, "2.1", "'flavor' is a required property"),
    (
        {"flavor": GOOD, "extra": 1},
        "2.1",
        "Additional properties are not allowed ('extra' was unexpected)",
    ),
    ([], "2.1", "[] is not of type 'object'"),
    ({"flavor": "x"}, "2.1", f"{FIELD} flavor. Value: x. 'x' is not of type 'object'"),
    (flavor(ram=512.0), "2.1", "Invalid input received: ram must be an integer"),
    (
        flavor(rxtx_factor="0"),
        "2.1",
        "Invalid input received: 'rxtx_factor' argument must be a float between 0 and 3.40282e+38",
    ),
]


@pytest.mark.parametrize(("body", "version", "message"), CASES)
async def test_bad_flavor_bodies(
    api: httpx.AsyncClient, body: Any, version: str, message: str
) -> None:
    r = await api.post(FLAVORS, json=body, headers=at(version))
    assert r.status_code == 400, r.text
    assert "badRequest" in r.json()
    text = fault(r)["message"]
    if message.endswith("…"):
        assert text.startswith(message[:-1]), text
    elif message.startswith("…"):
        assert text.endswith(message[1:]), text
    else:
        assert text == message


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "Malformed request body"),
        (b"", "application/json", 400, "Malformed request body"),
        (b'{"flavor": {}}', "text/plain", 415, "Unsupported Content-Type"),
    ],
)
async def test_unreadable_bodies(
    api: httpx.AsyncClient, content: bytes, content_type: str, status: int, message: str
) -> None:
    r = await api.post(FLAVORS, content=content, headers={**ADMIN, "Content-Type": content_type})
    assert r.status_code == status
    assert fault(r)["message"].startswith(message)


async def test_printable_unicode_names_are_fine(api: httpx.AsyncClient) -> None:
    r = await api.post(FLAVORS, json=flavor(name="größe mit Leerzeichen"), headers=ADMIN)
    assert r.status_code == 200
    assert r.json()["flavor"]["name"] == "größe mit Leerzeichen"
