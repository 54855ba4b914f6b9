"""The Cinder v3 HTTP face: version discovery at ``/volume`` and ``/volume/v3/``, and its routes.

| routes under ``/v3/{project_id}``              | module             |
|------------------------------------------------|--------------------|
| ``volumes``, ``volumes/detail``, ``…/action``  | ``volumes_api``    |
| ``attachments`` (3.27+)                        | ``attachments_api``|
| ``types``, ``os-availability-zone``            | ``types_api``      |
| ``os-quota-sets``                              | ``quota_sets``     |
| ``limits``                                     | here               |
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request

from cumulo.api import policy
from cumulo.api.auth import context
from cumulo.api.factory import JSON, self_url, service_app
from cumulo.api.microversion import APIVersion, VersionedAPI
from cumulo.context import RequestContext
from cumulo.runtime import Runtime
from cumulo.volume import attachments_api, quota, quota_sets, types_api, volumes_api
from cumulo.volume.limits import absolute_limits

MIN_VERSION = "3.0"
MAX_VERSION = "3.71"
VERSIONS = VersionedAPI("volume", APIVersion.parse(MIN_VERSION), APIVersion.parse(MAX_VERSION))


def version_doc(request: Request) -> dict[str, object]:
    href = self_url(str(request.base_url), "v3") + "/"
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": href},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


def build_app(runtime: Runtime) -> FastAPI:
    app = service_app(runtime, title="cumulo volume (Cinder v3)", style="nova", versions=VERSIONS)

    @app.get("/", include_in_schema=False)
    async def versions(request: Request) -> JSON:
        return JSON({"versions": [version_doc(request)]}, status_code=300)

    @app.get("/v3/", include_in_schema=False)
    @app.get("/v3", include_in_schema=False)
    async def v3(request: Request) -> JSON:
        return JSON({"versions": [version_doc(request)]})

    @app.get("/v3/{project_id}/limits")
    async def limits(project_id: str, ctx: RequestContext = Depends(context)) -> JSON:
        policy.enforce(ctx, "volume:limits", {"project_id": project_id})
        async with runtime.db.read() as session:
            limits = await quota.project_limits(session, runtime.settings.volume, project_id)
            used = await quota.project_usage(session, project_id)
        return JSON({"limits": {"rate": [], "absolute": absolute_limits(limits, used)}})

    for module in (volumes_api, attachments_api, types_api, quota_sets):
        app.include_router(module.router)

    return app
