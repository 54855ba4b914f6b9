"""``/v3/services``, ``/v3/endpoints`` and ``/v3/regions``."""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.validation import validate
from cumulo.context import RequestContext
from cumulo.db.models.identity import Endpoint, Region, Service
from cumulo.identity import catalog, views
from cumulo.identity.routes.common import identity, member, no_content, read_body
from cumulo.identity.schemas import EndpointCreate, RegionCreate, ServiceCreate
from cumulo.identity.service import authorize

Ctx = RequestContext


async def list_services(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:list_services")
    async with identity(request).db.read() as session:
        found = await catalog.list_rows(session, Service, request.query_params, ("type", "name"))
    return JSON(views.collection(request, "services", (views.service(request, s) for s in found)))


async def show_service(request: Request, service_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:get_service")
    async with identity(request).db.read() as session:
        found = await catalog.get_service(session, service_id)
    return JSON({"service": views.service(request, found)})


async def create_service(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:create_service")
    body = validate(ServiceCreate, member(await read_body(request), "service"), "service")
    svc = identity(request)
    async with svc.db.write() as session:
        created = await catalog.create_service(session, body)
    svc.catalog.invalidate()
    return JSON({"service": views.service(request, created)}, status_code=201)


async def delete_service(
    request: Request, service_id: str, ctx: Ctx = Depends(context)
) -> Response:
    authorize(ctx, "identity:delete_service")
    svc = identity(request)
    async with svc.db.write() as session:
        await catalog.delete_service(session, service_id)
    svc.catalog.invalidate()
    return no_content()


async def list_endpoints(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:list_endpoints")
    names = ("interface", "service_id", "region_id")
    async with identity(request).db.read() as session:
        found = await catalog.list_rows(session, Endpoint, request.query_params, names)
    return JSON(views.collection(request, "endpoints", (views.endpoint(request, e) for e in found)))


async def show_endpoint(
    request: Request, endpoint_id: str, ctx: Ctx = Depends(context)
) -> Response:
    authorize(ctx, "identity:get_endpoint")
    async with identity(request).db.read() as session:
        found = await catalog.get_endpoint(session, endpoint_id)
    return JSON({"endpoint": views.endpoint(request, found)})


async def create_endpoint(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:create_endpoint")
    body = validate(EndpointCreate, member(await read_body(request), "endpoint"), "endpoint")
    svc = identity(request)
    async with svc.db.write() as session:
        created = await catalog.create_endpoint(session, body)
    svc.catalog.invalidate()
    return JSON({"endpoint": views.endpoint(request, created)}, status_code=201)


async def delete_endpoint(
    request: Request, endpoint_id: str, ctx: Ctx = Depends(context)
) -> Response:
    authorize(ctx, "identity:delete_endpoint")
    svc = identity(request)
    async with svc.db.write() as session:
        await catalog.delete_endpoint(session, endpoint_id)
    svc.catalog.invalidate()
    return no_content()


async def list_regions(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:list_regions")
    async with identity(request).db.read() as session:
        found = await catalog.list_rows(
            session, Region, request.query_params, ("parent_region_id",)
        )
    return JSON(views.collection(request, "regions", (views.region(request, r) for r in found)))


async def show_region(request: Request, region_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:get_region")
    async with identity(request).db.read() as session:
        found = await catalog.get_region(session, region_id)
    return JSON({"region": views.region(request, found)})


async def create_region(request: Request, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:create_region")
    body = validate(RegionCreate, member(await read_body(request), "region"), "region")
    async with identity(request).db.write() as session:
        created = await catalog.create_region(session, body)
    return JSON({"region": views.region(request, created)}, status_code=201)


async def delete_region(request: Request, region_id: str, ctx: Ctx = Depends(context)) -> Response:
    authorize(ctx, "identity:delete_region")
    async with identity(request).db.write() as session:
        await catalog.delete_region(session, region_id)
    return no_content()
