"""``/v2.0/floatingips``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.models.network import FloatingIP, Port
from cumulo.network import access, l3, listing, schemas, views
from cumulo.network.errors import InvalidInput
from cumulo.network.messages import routers_changed
from cumulo.network.port_store import with_retries

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]


async def _body(session: AsyncSession, row: FloatingIP) -> dict[str, object]:
    port = await session.get(Port, row.fixed_port_id) if row.fixed_port_id else None
    return views.floatingip(row, port)


@router.post("/v2.0/floatingips", status_code=201)
async def create_floatingip(request: Request, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "floatingip", schemas.FLOATINGIP, update=False)
    if "floating_network_id" not in attrs:
        raise InvalidInput(
            error_message="Failed to parse request. "
            "Required attribute 'floating_network_id' not specified"
        )
    project_id = access.owner_project(ctx, attrs)
    runtime = request.app.state.runtime

    async def work(session: AsyncSession) -> dict[str, object]:
        row = await l3.create_floatingip(session, ctx, runtime.settings.network, project_id, attrs)
        await session.flush()
        await l3.refresh_instance_addresses(session, row.fixed_port_id)
        return await _body(session, row)

    body = await with_retries(runtime.db, work)
    if body["port_id"]:
        await routers_changed(runtime.bus, ctx)
    return JSON({"floatingip": body}, status_code=201)


@router.get("/v2.0/floatingips")
async def list_floatingips(request: Request, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        stmt = select(FloatingIP)
        if not ctx.is_admin:
            stmt = stmt.where(FloatingIP.project_id == ctx.project_id)
        rows = list(await session.scalars(stmt))
        fixed_ids = [r.fixed_port_id for r in rows if r.fixed_port_id]
        ports = {p.id: p for p in await session.scalars(select(Port).where(Port.id.in_(fixed_ids)))}
    items = [views.floatingip(r, ports.get(r.fixed_port_id or "")) for r in rows]
    return JSON(listing.page(request, "floatingips", items, views.FLOATINGIP))


@router.get("/v2.0/floatingips/{fip_id}")
async def show_floatingip(request: Request, fip_id: str, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        body = await _body(session, await l3.get_floatingip(session, ctx, fip_id))
    fields = request.query_params.getlist("fields")
    return JSON({"floatingip": listing.only_fields(body, fields)})


@router.put("/v2.0/floatingips/{fip_id}")
async def update_floatingip(request: Request, fip_id: str, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "floatingip", schemas.FLOATINGIP, update=True)
    runtime = request.app.state.runtime
    async with runtime.db.write() as session:
        row = await l3.get_floatingip(session, ctx, fip_id)
        access.enforce_owner(ctx, "network:update", row.project_id)
        if "port_id" in attrs:
            before = row.fixed_port_id
            await l3.associate(session, ctx, row, attrs["port_id"], attrs.get("fixed_ip_address"))
            await session.flush()
            await l3.refresh_instance_addresses(session, before, row.fixed_port_id)
        for key in ("description", "tags"):
            if key in attrs:
                setattr(row, key, attrs[key])
        await session.flush()
        body = await _body(session, row)
    await routers_changed(runtime.bus, ctx)
    return JSON({"floatingip": body})


@router.delete("/v2.0/floatingips/{fip_id}", status_code=204)
async def delete_floatingip(request: Request, fip_id: str, ctx: Ctx) -> Response:
    runtime = request.app.state.runtime
    async with runtime.db.write() as session:
        row = await l3.get_floatingip(session, ctx, fip_id)
        access.enforce_owner(ctx, "network:delete", row.project_id)
        associated = row.fixed_port_id
        await l3.delete_floatingip(session, row)
        await session.flush()
        await l3.refresh_instance_addresses(session, associated)
    if associated:
        await routers_changed(runtime.bus, ctx)
    return Response(status_code=204)
