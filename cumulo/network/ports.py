"""``/v2.0/ports``, with addresses and MACs allocated race-free in the database."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.policy import enforce
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.models.network import IPAllocation, Port
from cumulo.network import (
    access,
    fixed_ips,
    ipam,
    l3,
    listing,
    port_store,
    schemas,
    secgroups,
    views,
)
from cumulo.network.errors import InvalidInput, ServicePortInUse
from cumulo.network.messages import routers_changed, security_groups_changed
from cumulo.network.port_store import with_retries

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]


def _columns(ctx: RequestContext, attrs: dict[str, Any], mac: str) -> dict[str, Any]:
    if "binding:host_id" in attrs:
        enforce(ctx, "network:binding")
        attrs["host_id"] = attrs.pop("binding:host_id")
        attrs["vif_type"] = port_store.BOUND_VIF_TYPE if attrs["host_id"] else "unbound"
    if "binding:vnic_type" in attrs:
        attrs["vnic_type"] = attrs.pop("binding:vnic_type")
    attrs.pop("binding:profile", None)
    pairs = attrs.get("allowed_address_pairs")
    if pairs is not None:
        attrs["allowed_address_pairs"] = [_pair(p, mac) for p in pairs]
    if attrs.get("extra_dhcp_opts") is not None:
        attrs["extra_dhcp_opts"] = [_dhcp_opt(o) for o in attrs["extra_dhcp_opts"]]
    return attrs


def _pair(pair: Any, mac: str) -> dict[str, str]:
    if not isinstance(pair, dict) or "ip_address" not in pair:
        raise InvalidInput(error_message="AllowedAddressPair must contain ip_address")
    ip = str(pair["ip_address"])
    (ipam.parse_ip(ip.split("/")[0]))
    return {"ip_address": ip, "mac_address": str(pair.get("mac_address") or mac)}


def _dhcp_opt(opt: Any) -> dict[str, Any]:
    if not isinstance(opt, dict) or "opt_name" not in opt or "opt_value" not in opt:
        raise InvalidInput(error_message=f"Invalid data format for extra-dhcp-opt: {opt}")
    return {
        "opt_name": opt["opt_name"],
        "opt_value": opt["opt_value"],
        "ip_version": int(opt.get("ip_version", 4)),
    }


@router.post("/v2.0/ports", status_code=201)
async def create_port(request: Request, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "port", schemas.PORT, update=False)
    if "network_id" not in attrs:
        raise InvalidInput(
            error_message="Failed to parse request. Required attribute 'network_id' not specified"
        )
    project_id = access.owner_project(ctx, attrs)
    requested = attrs.pop("fixed_ips", None)
    db = request.app.state.runtime.db

    async def work(session: AsyncSession) -> dict[str, Any]:
        default_group = await secgroups.default_group(session, project_id)
        net = await access.get_network(session, ctx, attrs["network_id"])
        cols = dict(attrs)
        cols["mac_address"] = cols.get("mac_address") or ipam.new_mac()
        cols = _columns(ctx, cols, cols["mac_address"])
        cols.setdefault("port_security_enabled", net.port_security_enabled)
        if "security_groups" not in cols:
            cols["security_groups"] = [default_group] if cols["port_security_enabled"] else []
        row, ips = await port_store.create(
            session, request.app.state.runtime.settings.network, net, project_id, cols, requested
        )
        return views.port(row, ips, ctx)

    body = await with_retries(db, work)
    await security_groups_changed(request.app.state.runtime.bus, ctx)
    return JSON({"port": body}, status_code=201)


@router.get("/v2.0/ports")
async def list_ports(request: Request, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        rows = list(await session.scalars(select(Port).where(access.port_filter(ctx))))
        ips = await port_store.ips_of(session, [r.id for r in rows])
    items = [views.port(r, ips.get(r.id, []), ctx) for r in rows]
    return JSON(listing.page(request, "ports", items, views.PORT))


@router.get("/v2.0/ports/{port_id}")
async def show_port(request: Request, port_id: str, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        row = await access.get_port(session, ctx, port_id)
        ips = await port_store.ips_of(session, [row.id])
    fields = request.query_params.getlist("fields")
    return JSON({"port": listing.only_fields(views.port(row, ips.get(row.id, []), ctx), fields)})


@router.put("/v2.0/ports/{port_id}")
async def update_port(request: Request, port_id: str, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "port", schemas.PORT, update=True)
    requested = attrs.pop("fixed_ips", None)

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await access.get_port(session, ctx, port_id)
        access.enforce_owner(ctx, "network:update", row.project_id)
        cols = dict(attrs)
        if "mac_address" in cols and cols["mac_address"] != row.mac_address:
            await port_store.check_mac(session, row.network_id, cols["mac_address"])
        cols.setdefault("port_security_enabled", row.port_security_enabled)
        cols.setdefault("security_groups", row.security_groups)
        await port_store.check_groups(session, row.project_id, cols)
        for key, value in _columns(ctx, cols, cols.get("mac_address", row.mac_address)).items():
            setattr(row, key, value)
        if requested is not None:
            await session.execute(delete(IPAllocation).where(IPAllocation.port_id == row.id))
            await session.flush()
            await fixed_ips.allocate(session, row.network_id, row.id, requested)
        row.revision_number += 1
        await session.flush()
        ips = await port_store.ips_of(session, [row.id])
        return views.port(row, ips.get(row.id, []), ctx)

    body = await with_retries(request.app.state.runtime.db, work)
    await security_groups_changed(request.app.state.runtime.bus, ctx)
    return JSON({"port": body})


@router.delete("/v2.0/ports/{port_id}", status_code=204)
async def delete_port(request: Request, port_id: str, ctx: Ctx) -> Response:
    async with request.app.state.runtime.db.write() as session:
        row = await access.get_port(session, ctx, port_id)
        access.enforce_owner(ctx, "network:delete", row.project_id)
        if row.device_owner in l3.SERVICE_OWNERS:
            raise ServicePortInUse(port_id=row.id, device_owner=row.device_owner)
        floating = await l3.disassociate_port(session, row.id)
        await port_store.remove(session, row)
    await security_groups_changed(request.app.state.runtime.bus, ctx)
    if floating:
        await routers_changed(request.app.state.runtime.bus, ctx)
    return Response(status_code=204)
