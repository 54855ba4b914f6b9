"""The Neutron v2.0 HTTP face: version discovery at ``/networking`` and the v2.0 routes."""

from __future__ import annotations

from fastapi import FastAPI, Request

from cumulo.api.factory import JSON, self_url, service_app
from cumulo.network import (
    extensions,
    floating_ips,
    networks,
    ports,
    quotas,
    routers,
    secgroups_api,
    subnets,
)
from cumulo.runtime import Runtime


def build_app(runtime: Runtime) -> FastAPI:
    app = service_app(runtime, title="cumulo networking (Neutron v2.0)", style="neutron")

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

    modules = (networks, subnets, ports, secgroups_api, routers, floating_ips, quotas, extensions)
    for module in modules:
        app.include_router(module.router)
    return app
