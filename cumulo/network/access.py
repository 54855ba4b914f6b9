"""Who sees what: tenant isolation for networks, subnets and ports.

A network is visible to its project, to admins, and to everyone when shared
or external; subnets follow their network. Ports are visible to their
project (and admins) only. Anything not visible is "not found".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api.policy import enforce
from cumulo.context import RequestContext
from cumulo.db.models.network import Network, Port, Subnet
from cumulo.network.errors import NetworkNotFound, PortNotFound, SubnetNotFound


def network_filter(ctx: RequestContext) -> Any:
    if ctx.is_admin:
        return True
    return visible_network(ctx.project_id)


def visible_network(project_id: Any) -> ColumnElement[bool]:
    """A network ``project_id`` (a value or a bound parameter) sees, not being an admin."""
    return or_(Network.project_id == project_id, Network.shared, Network.external)


async def get_network(session: AsyncSession, ctx: RequestContext, net_id: str) -> Network:
    row = await session.scalar(select(Network).where(Network.id == net_id, network_filter(ctx)))
    if row is None:
        raise NetworkNotFound(net_id=net_id)
    return row


async def get_subnet(session: AsyncSession, ctx: RequestContext, subnet_id: str) -> Subnet:
    stmt = (
        select(Subnet)
        .join(Network, Network.id == Subnet.network_id)
        .where(Subnet.id == subnet_id, network_filter(ctx))
    )
    row = await session.scalar(stmt)
    if row is None:
        raise SubnetNotFound(subnet_id=subnet_id)
    return row


def port_filter(ctx: RequestContext) -> Any:
    return True if ctx.is_admin else Port.project_id == ctx.project_id


async def get_port(session: AsyncSession, ctx: RequestContext, port_id: str) -> Port:
    row = await session.scalar(select(Port).where(Port.id == port_id, port_filter(ctx)))
    if row is None:
        raise PortNotFound(port_id=port_id)
    return row


def owner_project(ctx: RequestContext, attrs: dict[str, Any]) -> str:
    """The project a new resource belongs to: the caller's, or any one for admins."""
    project = attrs.pop("project_id", None) or attrs.pop("tenant_id", None) or ctx.project_id
    attrs.pop("tenant_id", None)
    enforce(ctx, "network:create", {"project_id": project})
    return str(project)


def enforce_owner(ctx: RequestContext, action: str, project_id: str) -> None:
    enforce(ctx, action, {"project_id": project_id})
