"""The API-side check before a boot (Nova's ``validate_networks``): can the project use the
requested networks and ports, and how many instances does its port quota leave room for?"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.context import RequestContext
from cumulo.db.models.network import IPAllocation, Port
from cumulo.network import nic_requests, quotas
from cumulo.network.compute_errors import (
    FixedIpAlreadyInUse,
    NetworkRequiresSubnet,
    PortInUse,
    PortLimitExceeded,
    PortRequiresFixedIP,
)
from cumulo.network.messages import NetworkRequest, RequestedNetworks, ValidateNetworks
from cumulo.network.nic_requests import NetworkRow
from cumulo.runtime import Runtime


async def _check_port(session: AsyncSession, ctx: RequestContext, port_id: str) -> NetworkRow:
    port = await nic_requests.requested_port(session, ctx, port_id)
    if port.device_id:
        raise PortInUse(port_id=port_id)
    if not await nic_requests.has_fixed_ip(session, port_id):
        raise PortRequiresFixedIP(port_id=port_id)
    network = await nic_requests.network(session, port.network_id)
    assert network is not None
    return network


async def _check_network(
    session: AsyncSession, ctx: RequestContext, request: NetworkRequest
) -> NetworkRow:
    assert request.network_id is not None
    net = await nic_requests.requested_network(session, ctx, request.network_id)
    if not (await nic_requests.subnet_counts(session, [net.id])).get(net.id):
        raise NetworkRequiresSubnet(network_uuid=net.id)
    if request.fixed_ip:
        stmt = (
            select(Port.device_id)
            .join(IPAllocation, IPAllocation.port_id == Port.id)
            .where(IPAllocation.network_id == net.id, IPAllocation.ip_address == request.fixed_ip)
        )
        holder = await session.scalar(stmt)
        if holder is not None:
            raise FixedIpAlreadyInUse(address=request.fixed_ip, instance_uuid=holder)
    return net


async def ports_needed_per_instance(
    session: AsyncSession, ctx: RequestContext, requested: RequestedNetworks
) -> int:
    if requested == "none":
        return 0
    if nic_requests.unspecified(requested):
        await nic_requests.the_one_network(session, ctx.project_id or "", requested)
        return 1
    assert isinstance(requested, list)
    needed = 0
    nets: list[NetworkRow] = []
    for request in requested:
        if request.port_id:
            nets.append(await _check_port(session, ctx, request.port_id))
        else:
            needed += 1
            nets.append(await _check_network(session, ctx, request))
    nic_requests.check_external(ctx, nets)
    return needed


async def validate_networks(runtime: Runtime, ctx: RequestContext, msg: ValidateNetworks) -> int:
    """How many of ``msg.num_instances`` the port quota allows (Nova's ``max_net_count``)."""
    project_id = ctx.project_id or ""
    async with runtime.db.read() as session:
        per_instance = await ports_needed_per_instance(session, ctx, msg.requested_networks)
        if not per_instance:
            return msg.num_instances
        settings = runtime.settings.network
        limit = (await quotas.limits(session, settings, project_id))["port"]
        if limit < 0:
            return msg.num_instances
        used = await quotas.used(session, project_id, "port")
    free = limit - used
    if free < 0:
        raise PortLimitExceeded(f"The number of defined ports: {used} is over the limit: {limit}")
    return min(msg.num_instances, free // per_instance)
