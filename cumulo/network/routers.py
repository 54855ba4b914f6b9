"""``/v2.0/routers``: routers, their interfaces and their external gateway."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.models.network import Router
from cumulo.network import access, l3, listing, quotas, schemas, views
from cumulo.network.messages import routers_changed

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]


def _columns(attrs: dict[str, Any]) -> dict[str, Any]:
    routes = attrs.pop("routes", None)
    if routes:
        raise l3.BadRequest(resource="router", msg="Static routes are not supported")
    attrs.pop("availability_zone_hints", None)
    return attrs


@router.post("/v2.0/routers", status_code=201)
async def create_router(request: Request, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "router", schemas.ROUTER, update=False)
    project_id = access.owner_project(ctx, attrs)
    gateway = attrs.pop("external_gateway_info", None)
    runtime = request.app.state.runtime
    settings = runtime.settings.network
    async with runtime.db.write() as session:
        await quotas.check_quota(session, settings, project_id, "router")
        row = Router(project_id=project_id, **_columns(attrs))
        session.add(row)
        await session.flush()
        await l3.set_gateway(session, ctx, settings, row, gateway)
        await session.flush()
        body = views.router(row, (await l3.gateway_ips(session, [row])).get(row.id, []))
    if gateway:
        await routers_changed(runtime.bus, ctx)
    return JSON({"router": body}, status_code=201)


@router.get("/v2.0/routers")
async def list_routers(request: Request, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        stmt = select(Router)
        if not ctx.is_admin:
            stmt = stmt.where(Router.project_id == ctx.project_id)
        rows = list(await session.scalars(stmt))
        gateways = await l3.gateway_ips(session, rows)
    items = [views.router(r, gateways.get(r.id, [])) for r in rows]
    return JSON(listing.page(request, "routers", items, views.ROUTER))


@router.get("/v2.0/routers/{router_id}")
async def show_router(request: Request, router_id: str, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        row = await l3.get_router(session, ctx, router_id)
        gateways = await l3.gateway_ips(session, [row])
    fields = request.query_params.getlist("fields")
    return JSON(
        {"router": listing.only_fields(views.router(row, gateways.get(row.id, [])), fields)}
    )


@router.put("/v2.0/routers/{router_id}")
async def update_router(request: Request, router_id: str, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "router", schemas.ROUTER, update=True)
    runtime = request.app.state.runtime
    async with runtime.db.write() as session:
        row = await l3.get_router(session, ctx, router_id)
        access.enforce_owner(ctx, "network:update", row.project_id)
        if "external_gateway_info" in attrs:
            gateway = attrs.pop("external_gateway_info")
            await l3.set_gateway(session, ctx, runtime.settings.network, row, gateway)
        for key, value in _columns(attrs).items():
            setattr(row, key, value)
        row.revision_number += 1
        await session.flush()
        body = views.router(row, (await l3.gateway_ips(session, [row])).get(row.id, []))
    await routers_changed(runtime.bus, ctx)
    return JSON({"router": body})


@router.delete("/v2.0/routers/{router_id}", status_code=204)
async def delete_router(request: Request, router_id: str, ctx: Ctx) -> Response:
    runtime = request.app.state.runtime
    async with runtime.db.write() as session:
        row = await l3.get_router(session, ctx, router_id)
        access.enforce_owner(ctx, "network:delete", row.project_id)
        await l3.delete_router(session, row)
    await routers_changed(runtime.bus, ctx)
    return Response(status_code=204)


@router.put("/v2.0/routers/{router_id}/add_router_interface")
async def add_router_interface(request: Request, router_id: str, ctx: Ctx) -> JSON:
    body = await read_json(request)
    runtime = request.app.state.runtime
    async with runtime.db.write() as session:
        row = await l3.get_router(session, ctx, router_id)
        access.enforce_owner(ctx, "network:update", row.project_id)
        interface = await l3.add_interface(session, ctx, runtime.settings.network, row, body)
        row.revision_number += 1
    await routers_changed(runtime.bus, ctx)
    return JSON(interface.body())


@router.put("/v2.0/routers/{router_id}/remove_router_interface")
async def remove_router_interface(request: Request, router_id: str, ctx: Ctx) -> JSON:
    body = await read_json(request)
    runtime = request.app.state.runtime
    async with runtime.db.write() as session:
        row = await l3.get_router(session, ctx, router_id)
        access.enforce_owner(ctx, "network:update", row.project_id)
        interface = await l3.remove_interface(session, ctx, row, body)
        row.revision_number += 1
    await routers_changed(runtime.bus, ctx)
    return JSON(interface.body())
