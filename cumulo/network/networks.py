"""``/v2.0/networks``."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.policy import enforce
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.base import new_uuid
from cumulo.db.models.network import Network, Port, Subnet
from cumulo.network import access, listing, quotas, schemas, segments, views
from cumulo.network.errors import InvalidInput, NetworkInUse
from cumulo.network.port_store import with_retries

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]
MTU = {"vxlan": 1450, "geneve": 1442}
PROVIDER = {
    "provider:network_type": "network_type",
    "provider:physical_network": "physical_network",
    "provider:segmentation_id": "segmentation_id",
}


def _columns(ctx: RequestContext, attrs: dict[str, Any]) -> dict[str, Any]:
    """Request attributes as column values, enforcing the admin-only ones."""
    if "shared" in attrs:
        enforce(ctx, "network:shared")
    if "router:external" in attrs:
        enforce(ctx, "network:router:external")
        attrs["external"] = attrs.pop("router:external")
    for key, column in PROVIDER.items():
        if key in attrs:
            enforce(ctx, "network:provider")
            attrs[column] = attrs.pop(key)
    attrs.pop("availability_zone_hints", None)
    return attrs


async def _subnet_ids(session: Any, net_ids: list[str]) -> dict[str, list[str]]:
    rows = await session.execute(
        select(Subnet.network_id, Subnet.id).where(Subnet.network_id.in_(net_ids))
    )
    found: dict[str, list[str]] = defaultdict(list)
    for net_id, subnet_id in rows:
        found[net_id].append(subnet_id)
    return found


@router.post("/v2.0/networks", status_code=201)
async def create_network(request: Request, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "network", schemas.NETWORK, update=False)
    project_id = access.owner_project(ctx, attrs)
    cols = _columns(ctx, attrs)
    net_type = cols.setdefault("network_type", "vxlan")
    if net_type not in ("vxlan", "geneve", "flat", "vlan", "local"):
        raise InvalidInput(error_message=f"network_type value '{net_type}' not supported")
    cols.setdefault("mtu", MTU.get(net_type, 1500))
    settings = request.app.state.runtime.settings.network

    async def work(session: AsyncSession) -> dict[str, Any]:
        await quotas.check_quota(session, settings, project_id, "network")
        row = Network(id=new_uuid(), project_id=project_id, **cols)
        if net_type == "vxlan":
            row.segmentation_id = await segments.allocate_vni(session, row.id, row.segmentation_id)
        session.add(row)
        await session.flush()
        return views.network(row, [], ctx)

    body = await with_retries(request.app.state.runtime.db, work)
    return JSON({"network": body}, status_code=201)


@router.get("/v2.0/networks")
async def list_networks(request: Request, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        rows = list(await session.scalars(select(Network).where(access.network_filter(ctx))))
        subnets = await _subnet_ids(session, [r.id for r in rows])
    items = [views.network(r, subnets.get(r.id, []), ctx) for r in rows]
    return JSON(listing.page(request, "networks", items, views.NETWORK))


@router.get("/v2.0/networks/{net_id}")
async def show_network(request: Request, net_id: str, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        row = await access.get_network(session, ctx, net_id)
        subnets = await _subnet_ids(session, [row.id])
    fields = request.query_params.getlist("fields")
    body = views.network(row, subnets.get(row.id, []), ctx)
    return JSON({"network": listing.only_fields(body, fields)})


@router.put("/v2.0/networks/{net_id}")
async def update_network(request: Request, net_id: str, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "network", schemas.NETWORK, update=True)
    async with request.app.state.runtime.db.write() as session:
        row = await access.get_network(session, ctx, net_id)
        access.enforce_owner(ctx, "network:update", row.project_id)
        for key, value in _columns(ctx, attrs).items():
            setattr(row, key, value)
        row.revision_number += 1
        await session.flush()
        subnets = await _subnet_ids(session, [row.id])
        body = views.network(row, subnets.get(row.id, []), ctx)
    return JSON({"network": body})


@router.delete("/v2.0/networks/{net_id}", status_code=204)
async def delete_network(request: Request, net_id: str, ctx: Ctx) -> Response:
    async with request.app.state.runtime.db.write() as session:
        row = await access.get_network(session, ctx, net_id)
        access.enforce_owner(ctx, "network:delete", row.project_id)
        in_use = await session.scalar(select(Port.id).where(Port.network_id == net_id).limit(1))
        if in_use is not None:
            raise NetworkInUse(net_id=net_id)
        await session.execute(delete(Subnet).where(Subnet.network_id == net_id))
        await segments.release(session, net_id)
        await session.delete(row)
    return Response(status_code=204)
