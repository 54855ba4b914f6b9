"""Version discovery, answered without a token (keystoneauth and gophercloud start here)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cumulo.api.factory import JSON, self_url

VERSION_ID = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def version_document(request: Request) -> dict[str, Any]:
    return {
        "id": VERSION_ID,
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": self_url(str(request.base_url), "v3") + "/"}],
        "media-types": MEDIA_TYPES,
    }


async def list_versions(request: Request) -> Response:
    return JSON({"versions": {"values": [version_document(request)]}}, status_code=300)


async def show_v3(request: Request) -> Response:
    return JSON({"version": version_document(request)})
