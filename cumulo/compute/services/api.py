"""``/os-services``: list the service processes, enable or disable a compute service, force
it down, delete it.

From 2.53 services are named by uuid and updated with ``PUT /os-services/{uuid}``;
before, by integer id, and updated by ``PUT /os-services/{action}`` naming
the service by host and binary in the body (``cumulo.compute.services.legacy``).
Only ``nova-compute`` services may be updated. Every route is admin-only.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cumulo import exception
from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.compute import errors, http, query
from cumulo.compute.http import Route
from cumulo.compute.microversions import Feature, supports
from cumulo.compute.services import db, legacy, schemas, views
from cumulo.compute.services.errors import ServiceHostingInstances, ServiceUpdateNotSupported
from cumulo.compute.services.ids import is_integer, is_uuid_like, uses_uuids
from cumulo.compute.validation import validate_body
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.hosts import ComputeService

# API services report no heartbeat, so Nova leaves them out rather than show them down.
_API_BINARIES = ("nova-osapi_compute", "nova-metadata")


async def _details(
    request: Request, session: AsyncSession, services: list[ComputeService]
) -> list[dict[str, Any]]:
    settings = http.settings(request)
    version, now = http.version(request), utcnow()
    zones = await db.zones(session, services, settings.default_availability_zone)
    return [
        views.detail(
            s,
            version,
            up=db.service_is_up(s, now, settings.service_down_time),
            zone=zones[s.id],
        )
        for s in services
    ]


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    strict = supports(http.version(request), Feature.STRICT_QUERY)
    params = query.validate_query(request, schemas.INDEX_QUERY, strict)
    policy.enforce(ctx, "compute:services:list", {})
    async with http.db(request).read() as session:
        services = await db.list_services(
            session, query.last(params, "host"), query.last(params, "binary")
        )
        services = [s for s in services if s.binary not in _API_BINARIES]
        listed = await _details(request, session, services)
    return JSON({"services": listed})


async def update(
    request: Request, service_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    version = http.version(request)
    raw = await read_json(request, http.runtime(request).settings.api.max_body_bytes)
    if not uses_uuids(version):
        return await _legacy_update(request, ctx, service_id, raw)
    body = validate_body(schemas.ServiceUpdateV253, raw)
    if not is_uuid_like(service_id):
        raise exception.Invalid(f"Invalid uuid {service_id}")
    policy.enforce(ctx, "compute:services:update", {})
    async with http.db(request).write() as session:
        service = await db.get_service(session, service_id, by_uuid=True)
        if service.binary != db.COMPUTE:
            raise ServiceUpdateNotSupported(binary=service.binary)
        _apply(service, body, set(raw))
        [shown] = await _details(request, session, [service])
    return JSON({"service": shown})


def _apply(service: ComputeService, body: schemas.ServiceUpdateV253, given: set[str]) -> None:
    """Change what the body asks; nothing asked (only a reason, or nothing) is a 400."""
    if body.status == "enabled":
        if body.disabled_reason:
            raise exception.Invalid(
                "Specifying 'disabled_reason' with status 'enabled' is invalid."
            )
        service.disabled, service.disabled_reason = False, None
    elif body.status == "disabled":
        service.disabled, service.disabled_reason = True, body.disabled_reason
    if body.forced_down is not None:
        service.forced_down = body.forced_down
    if not given & {"status", "forced_down"}:
        raise exception.Invalid(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified."
        )


async def _legacy_update(request: Request, ctx: RequestContext, action_name: str, raw: Any) -> JSON:
    version = http.version(request)
    body = validate_body(legacy.body_model(version), raw)
    policy.enforce(ctx, "compute:services:update", {})
    action = legacy.actions(version).get(action_name)
    if action is None:
        raise exception.NotFound("Unknown action")
    async with http.db(request).write() as session:
        answer = await action(session, body)
    return JSON({"service": answer})


async def delete(
    request: Request, service_id: str, ctx: RequestContext = Depends(http.caller)
) -> Response:
    policy.enforce(ctx, "compute:services:delete", {})
    by_uuid = uses_uuids(http.version(request))
    if by_uuid:
        if not is_uuid_like(service_id):
            raise exception.Invalid(f"Invalid uuid {service_id}")
    elif not is_integer(service_id):
        raise exception.InvalidInput(reason="id must be an integer")
    async with http.db(request).write() as session:
        try:
            service = await db.get_service(session, service_id, by_uuid)
        except errors.ServiceNotFound:
            raise errors.ServiceNotFound(f"Service {service_id} not found.") from None
        if service.binary == db.COMPUTE and await db.count_instances_on_host(session, service.host):
            raise ServiceHostingInstances()
        await db.delete_service(session, service)
    return Response(status_code=204)


_SERVICE = "/v2.1/os-services/{service_id}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/v2.1/os-services", index, "services:index"),
    Route("PUT", _SERVICE, update, "services:update"),
    Route("DELETE", _SERVICE, delete, "services:delete"),
)
