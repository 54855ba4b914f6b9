"""Version discovery: ``GET /compute`` and ``GET /compute/v2.1``, answered without a token."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from cumulo.api.factory import JSON
from cumulo.compute.microversions import MAX_VERSION, MIN_VERSION

_DOCS = {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}

VERSIONS: dict[str, dict[str, Any]] = {
    "v2.0": {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
        "path": "v2",
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}
        ],
    },
    "v2.1": {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": "2013-07-23T11:33:21Z",
        "path": "v2.1",
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    },
}

_SUMMARY_KEYS = ("id", "status", "version", "min_version", "updated")


def _href(request: Request, path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/{path}/"


async def root(request: Request) -> JSON:
    """Every version, as Nova's root lists them (no media types in the list)."""
    listed = []
    for key in sorted(VERSIONS):
        version = VERSIONS[key]
        entry: dict[str, Any] = {k: version[k] for k in _SUMMARY_KEYS}
        entry["links"] = [{"rel": "self", "href": _href(request, version["path"])}]
        listed.append(entry)
    return JSON({"versions": listed})


async def current(request: Request) -> JSON:
    """The v2.1 document: its microversion range, links and media types."""
    version = VERSIONS["v2.1"]
    body: dict[str, Any] = {k: version[k] for k in _SUMMARY_KEYS}
    body["links"] = [{"rel": "self", "href": _href(request, version["path"])}, dict(_DOCS)]
    body["media-types"] = version["media-types"]
    return JSON({"version": body})
