"""The Glance v2 HTTP face: version discovery at ``/image`` and the ``/v2`` routes."""

from __future__ import annotations

from fastapi import FastAPI, Request

from cumulo.api.factory import JSON, self_url, service_app
from cumulo.image import data, images, members, schemas
from cumulo.runtime import Runtime

# Glance lists every v2 minor it speaks; clients take the CURRENT one.
VERSIONS = [("v2.17", "CURRENT")] + [(f"v2.{n}", "SUPPORTED") for n in range(16, -1, -1)]


def version_list(request: Request) -> list[dict[str, object]]:
    href = self_url(str(request.base_url), "v2") + "/"
    return [
        {"id": vid, "status": status, "links": [{"rel": "self", "href": href}]}
        for vid, status in VERSIONS
    ]


def build_app(runtime: Runtime) -> FastAPI:
    app = service_app(runtime, title="cumulo image (Glance v2)", style="glance")
    app.include_router(images.router)
    app.include_router(data.router)
    app.include_router(members.router)
    app.include_router(schemas.router)

    @app.get("/", include_in_schema=False)
    @app.get("/versions", include_in_schema=False)
    async def versions(request: Request) -> JSON:
        return JSON({"versions": version_list(request)}, status_code=300)

    return app
