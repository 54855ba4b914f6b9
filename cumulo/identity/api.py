"""The Keystone v3 HTTP face: every route of the identity API in one table.

Mounted at ``/identity``; paths here are relative to it. Version discovery
and ``POST /v3/auth/tokens`` (and the password change) need no token; every
other route authenticates with ``X-Auth-Token`` and enforces its
``identity:*`` policy rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.responses import Response

from cumulo.api.factory import service_app
from cumulo.identity.routes import auth, catalog, grants, resources, users, versions
from cumulo.identity.service import IdentityService
from cumulo.runtime import Runtime

Handler = Callable[..., Awaitable[Response]]

_PROJECT_GRANT = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"
_DOMAIN_GRANT = "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}"

ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/", versions.list_versions),
    ("GET", "/v3", versions.show_v3),
    ("GET", "/v3/", versions.show_v3),
    # tokens
    ("POST", "/v3/auth/tokens", auth.create_token),
    ("GET", "/v3/auth/tokens", auth.validate_token),
    ("HEAD", "/v3/auth/tokens", auth.check_token),
    ("DELETE", "/v3/auth/tokens", auth.revoke_token),
    ("GET", "/v3/auth/projects", auth.auth_projects),
    ("GET", "/v3/auth/domains", auth.auth_domains),
    ("GET", "/v3/auth/catalog", auth.auth_catalog),
    # domains
    ("GET", "/v3/domains", resources.list_domains),
    ("POST", "/v3/domains", resources.create_domain),
    ("GET", "/v3/domains/{domain_id}", resources.show_domain),
    ("PATCH", "/v3/domains/{domain_id}", resources.update_domain),
    ("DELETE", "/v3/domains/{domain_id}", resources.delete_domain),
    # projects
    ("GET", "/v3/projects", resources.list_projects),
    ("POST", "/v3/projects", resources.create_project),
    ("GET", "/v3/projects/{project_id}", resources.show_project),
    ("PATCH", "/v3/projects/{project_id}", resources.update_project),
    ("DELETE", "/v3/projects/{project_id}", resources.delete_project),
    # users
    ("GET", "/v3/users", users.list_users),
    ("POST", "/v3/users", users.create_user),
    ("GET", "/v3/users/{user_id}", users.show_user),
    ("PATCH", "/v3/users/{user_id}", users.update_user),
    ("DELETE", "/v3/users/{user_id}", users.delete_user),
    ("GET", "/v3/users/{user_id}/projects", users.list_user_projects),
    ("POST", "/v3/users/{user_id}/password", users.change_password),
    # roles
    ("GET", "/v3/roles", resources.list_roles),
    ("POST", "/v3/roles", resources.create_role),
    ("GET", "/v3/roles/{role_id}", resources.show_role),
    ("PATCH", "/v3/roles/{role_id}", resources.update_role),
    ("DELETE", "/v3/roles/{role_id}", resources.delete_role),
    # grants and role assignments
    ("PUT", _PROJECT_GRANT, grants.put_grant),
    ("GET", _PROJECT_GRANT, grants.check_grant),
    ("HEAD", _PROJECT_GRANT, grants.check_grant),
    ("DELETE", _PROJECT_GRANT, grants.revoke_grant),
    ("GET", "/v3/projects/{project_id}/users/{user_id}/roles", grants.list_grants),
    ("PUT", _DOMAIN_GRANT, grants.put_grant),
    ("GET", _DOMAIN_GRANT, grants.check_grant),
    ("HEAD", _DOMAIN_GRANT, grants.check_grant),
    ("DELETE", _DOMAIN_GRANT, grants.revoke_grant),
    ("GET", "/v3/domains/{domain_id}/users/{user_id}/roles", grants.list_grants),
    ("GET", "/v3/role_assignments", grants.list_role_assignments),
    # catalog
    ("GET", "/v3/services", catalog.list_services),
    ("POST", "/v3/services", catalog.create_service),
    ("GET", "/v3/services/{service_id}", catalog.show_service),
    ("DELETE", "/v3/services/{service_id}", catalog.delete_service),
    ("GET", "/v3/endpoints", catalog.list_endpoints),
    ("POST", "/v3/endpoints", catalog.create_endpoint),
    ("GET", "/v3/endpoints/{endpoint_id}", catalog.show_endpoint),
    ("DELETE", "/v3/endpoints/{endpoint_id}", catalog.delete_endpoint),
    ("GET", "/v3/regions", catalog.list_regions),
    ("POST", "/v3/regions", catalog.create_region),
    ("GET", "/v3/regions/{region_id}", catalog.show_region),
    ("DELETE", "/v3/regions/{region_id}", catalog.delete_region),
]


def build_app(runtime: Runtime) -> FastAPI:
    app = service_app(runtime, title="cumulo identity (Keystone v3)", style="keystone")
    app.router.redirect_slashes = False
    app.state.identity = IdentityService.from_runtime(runtime)
    if app.state.token_validator is None:
        app.state.token_validator = app.state.identity.validator
    for method, path, handler in ROUTES:
        app.add_api_route(
            path, handler, methods=[method], include_in_schema=path.startswith("/v3/")
        )
    return app
