"""``/v2.0/subnets``."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.models.network import IPAllocation, Network, Subnet
from cumulo.network import access, ipam, listing, quotas, schemas, views
from cumulo.network.errors import InvalidInput, SubnetInUse

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]
IPV6_MODES = (None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless")


def _gateway(net: ipam.IPNetwork, attrs: dict[str, Any]) -> str | None:
    if "gateway_ip" not in attrs:
        return ipam.first_host(net)
    if attrs["gateway_ip"] is None:
        return None
    gateway = ipam.parse_ip(attrs["gateway_ip"])
    if (
        gateway not in net
        or gateway == net.network_address
        or (net.version == 4 and gateway == net.broadcast_address)
    ):
        raise InvalidInput(
            error_message=f"Gateway ip {gateway} conflicts with the subnet cidr {net}"
        )
    return str(gateway)


def _routes_and_dns(attrs: dict[str, Any], version: int) -> None:
    for server in attrs.get("dns_nameservers", []):
        ipam.parse_ip(server)
    for route in attrs.get("host_routes", []):
        if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
            raise InvalidInput(error_message=f"Invalid data format for hostroute: '{route}'")
        try:
            destination = ipaddress.ip_network(route["destination"], strict=False)
        except ValueError:
            raise InvalidInput(
                error_message=f"Invalid data format for hostroute: '{route}'"
            ) from None
        if destination.version != version or ipam.parse_ip(route["nexthop"]).version != version:
            raise InvalidInput(error_message="Host route IP version mismatch with subnet")


def _new_subnet(attrs: dict[str, Any], net_row: Network, project_id: str) -> Subnet:
    version = attrs.pop("ip_version", 4)
    if version not in (4, 6):
        raise InvalidInput(error_message=f"Invalid input for ip_version. Reason: {version}")
    if "cidr" not in attrs:
        raise InvalidInput(error_message="A cidr must be specified in the absence of a subnet pool")
    net = ipam.parse_cidr(attrs.pop("cidr"), version)
    for mode in ("ipv6_ra_mode", "ipv6_address_mode"):
        if attrs.get(mode) not in IPV6_MODES or (version == 4 and attrs.get(mode)):
            raise InvalidInput(error_message=f"Invalid {mode} for IPv{version}")
    gateway = _gateway(net, attrs)
    attrs.pop("gateway_ip", None)
    attrs.pop("subnetpool_id", None)
    pools = attrs.pop("allocation_pools", None)
    pools = ipam.check_pools(net, pools, gateway) if pools else ipam.default_pools(net, gateway)
    _routes_and_dns(attrs, version)
    return Subnet(
        project_id=project_id,
        ip_version=version,
        cidr=str(net),
        gateway_ip=gateway,
        allocation_pools=pools,
        **attrs,
    )


async def _check_overlap(session: Any, row: Subnet) -> None:
    net = ipaddress.ip_network(row.cidr)
    others = await session.scalars(select(Subnet).where(Subnet.network_id == row.network_id))
    for other in others:
        if other.id != row.id and ipaddress.ip_network(other.cidr).overlaps(net):
            raise InvalidInput(
                error_message=f"Requested subnet with cidr: {row.cidr} for network: "
                f"{row.network_id} overlaps with another subnet"
            )


@router.post("/v2.0/subnets", status_code=201)
async def create_subnet(request: Request, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "subnet", schemas.SUBNET, update=False)
    if "network_id" not in attrs:
        raise InvalidInput(
            error_message="Failed to parse request. Required attribute 'network_id' not specified"
        )
    project_id = access.owner_project(ctx, attrs)
    settings = request.app.state.runtime.settings.network
    async with request.app.state.runtime.db.write() as session:
        net_row = await access.get_network(session, ctx, attrs["network_id"])
        access.enforce_owner(ctx, "network:update", net_row.project_id)
        await quotas.check_quota(session, settings, project_id, "subnet")
        row = _new_subnet(attrs, net_row, project_id)
        await _check_overlap(session, row)
        session.add(row)
        await session.flush()
        body = views.subnet(row)
    return JSON({"subnet": body}, status_code=201)


@router.get("/v2.0/subnets")
async def list_subnets(request: Request, ctx: Ctx) -> JSON:
    stmt = select(Subnet).join(Network, Network.id == Subnet.network_id)
    async with request.app.state.runtime.db.read() as session:
        rows = list(await session.scalars(stmt.where(access.network_filter(ctx))))
    return JSON(listing.page(request, "subnets", [views.subnet(r) for r in rows], views.SUBNET))


@router.get("/v2.0/subnets/{subnet_id}")
async def show_subnet(request: Request, subnet_id: str, ctx: Ctx) -> JSON:
    async with request.app.state.runtime.db.read() as session:
        row = await access.get_subnet(session, ctx, subnet_id)
    fields = request.query_params.getlist("fields")
    return JSON({"subnet": listing.only_fields(views.subnet(row), fields)})


def _apply_update(row: Subnet, attrs: dict[str, Any]) -> None:
    net = ipaddress.ip_network(row.cidr)
    if "gateway_ip" in attrs:
        row.gateway_ip = _gateway(net, attrs)
        attrs.pop("gateway_ip")
    if "allocation_pools" in attrs:
        row.allocation_pools = ipam.check_pools(net, attrs.pop("allocation_pools"), row.gateway_ip)
    _routes_and_dns(attrs, row.ip_version)
    for key, value in attrs.items():
        setattr(row, key, value)
    row.revision_number += 1


@router.put("/v2.0/subnets/{subnet_id}")
async def update_subnet(request: Request, subnet_id: str, ctx: Ctx) -> JSON:
    attrs = schemas.parse(await read_json(request), "subnet", schemas.SUBNET, update=True)
    async with request.app.state.runtime.db.write() as session:
        row = await access.get_subnet(session, ctx, subnet_id)
        access.enforce_owner(ctx, "network:update", row.project_id)
        _apply_update(row, attrs)
        await session.flush()
        body = views.subnet(row)
    return JSON({"subnet": body})


@router.delete("/v2.0/subnets/{subnet_id}", status_code=204)
async def delete_subnet(request: Request, subnet_id: str, ctx: Ctx) -> Response:
    async with request.app.state.runtime.db.write() as session:
        row = await access.get_subnet(session, ctx, subnet_id)
        access.enforce_owner(ctx, "network:delete", row.project_id)
        used = await session.scalar(
            select(IPAllocation.port_id).where(IPAllocation.subnet_id == subnet_id).limit(1)
        )
        if used is not None:
            raise SubnetInUse(subnet_id=subnet_id)
        await session.delete(row)
    return Response(status_code=204)
