"""The compute HTTP API (Nova v2.1 with microversions): its one route table, and the app serving it.

Mounted at ``/compute``. The version documents answer without a token;
every other route authenticates with ``http.caller``. Each route also
answers under ``/v2.1/{project_id}/…`` (see ``http.LegacyProjectPath``).
"""

from __future__ import annotations

from fastapi import FastAPI

from cumulo.api.factory import service_app
from cumulo.compute import aggregates, availability_zones, limits, quota_sets, versions
from cumulo.compute.flavors import access as flavor_access
from cumulo.compute.flavors import api as flavors
from cumulo.compute.flavors import extra_specs
from cumulo.compute.http import LegacyProjectPath, Route
from cumulo.compute.hypervisors import api as hypervisors
from cumulo.compute.instance_actions import api as instance_actions
from cumulo.compute.keypairs import api as keypairs
from cumulo.compute.microversions import COMPUTE_API
from cumulo.compute.server_groups import api as server_groups
from cumulo.compute.servers import actions as server_actions
from cumulo.compute.servers import api as servers
from cumulo.compute.servers import read as servers_read
from cumulo.compute.services import api as services
from cumulo.runtime import Runtime

_FLAVOR = "/v2.1/flavors/{flavor_id}"
_SPEC = _FLAVOR + "/os-extra_specs"
_QUOTA = "/v2.1/os-quota-sets/{project_id}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/", versions.root, "versions"),
    Route("GET", "/v2.1", versions.current, "version"),
    Route("GET", "/v2.1/", versions.current, "version_slash"),
    Route("GET", "/v2.1/flavors", flavors.index, "flavors:index"),
    Route("POST", "/v2.1/flavors", flavors.create, "flavors:create"),
    Route("GET", "/v2.1/flavors/detail", flavors.detail, "flavors:detail"),
    Route("GET", _FLAVOR, flavors.show, "flavors:show"),
    Route("PUT", _FLAVOR, flavors.update, "flavors:update"),
    Route("DELETE", _FLAVOR, flavors.delete, "flavors:delete"),
    Route("POST", _FLAVOR + "/action", flavor_access.action, "flavors:action"),
    Route("GET", _FLAVOR + "/os-flavor-access", flavor_access.index, "flavor_access:index"),
    Route("GET", _SPEC, extra_specs.index, "extra_specs:index"),
    Route("POST", _SPEC, extra_specs.create, "extra_specs:create"),
    Route("GET", _SPEC + "/{key}", extra_specs.show, "extra_specs:show"),
    Route("PUT", _SPEC + "/{key}", extra_specs.update, "extra_specs:update"),
    Route("DELETE", _SPEC + "/{key}", extra_specs.delete, "extra_specs:delete"),
    Route("GET", "/v2.1/os-keypairs", keypairs.index, "keypairs:index"),
    Route("POST", "/v2.1/os-keypairs", keypairs.create, "keypairs:create"),
    Route("GET", "/v2.1/os-keypairs/{keypair_name}", keypairs.show, "keypairs:show"),
    Route("DELETE", "/v2.1/os-keypairs/{keypair_name}", keypairs.delete, "keypairs:delete"),
    Route("GET", "/v2.1/limits", limits.index, "limits"),
    Route("GET", _QUOTA, quota_sets.show, "quota_sets:show"),
    Route("PUT", _QUOTA, quota_sets.update, "quota_sets:update"),
    Route("DELETE", _QUOTA, quota_sets.reset, "quota_sets:delete"),
    Route("GET", _QUOTA + "/detail", quota_sets.detail, "quota_sets:detail"),
    Route("GET", _QUOTA + "/defaults", quota_sets.defaults, "quota_sets:defaults"),
    Route("GET", "/v2.1/os-availability-zone", availability_zones.index, "az:index"),
    Route("GET", "/v2.1/os-availability-zone/detail", availability_zones.detail, "az:detail"),
    *servers.ROUTES,
    *server_actions.ROUTES,
    *servers_read.ROUTES,
    *instance_actions.ROUTES,
    *server_groups.ROUTES,
    *hypervisors.ROUTES,
    *services.ROUTES,
    *aggregates.ROUTES,
)


def build_app(runtime: Runtime) -> FastAPI:
    """The compute API app, for the root app to mount at ``/compute``."""
    app = service_app(
        runtime, title="cumulo compute (Nova v2.1)", style="nova", versions=COMPUTE_API
    )
    for route in ROUTES:
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=[route.method],
            name=route.name,
            include_in_schema=route.endpoint not in (versions.root, versions.current),
        )
    app.add_middleware(LegacyProjectPath)
    return app
