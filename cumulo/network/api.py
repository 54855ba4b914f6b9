"""The Neutron v2.0 HTTP face. So far: version discovery at ``/networking``."""

from __future__ import annotations

from fastapi import FastAPI, Request

from cumulo.api.factory import JSON, self_url, service_app
from cumulo.runtime import Runtime


def build_app(runtime: Runtime) -> FastAPI:
    app = service_app(runtime, title="cumulo networking (Neutron v2.0)", style="nova")

    @app.get("/", include_in_schema=False)
    async def versions(request: Request) -> JSON:
        href = self_url(str(request.base_url), "v2.0") + "/"
        return JSON(
            {
                "versions": [
                    {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}
                ]
            }
        )

    return app
