"""The typed client the compute services use to reach the network service over the bus.

Its methods are Nova's (``nova/network/neutron.py``), and so are their errors
(``cumulo.network.compute_errors``), raised here as the manager raised them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from cumulo.context import RequestContext
from cumulo.network.manager import NetworkManager
from cumulo.network.messages import (
    AllocateForInstance,
    DeallocateForInstance,
    GetInstanceNwInfo,
    InstanceRef,
    MaxCount,
    NetworkRequest,
    RequestedNetworks,
    ValidateNetworks,
)
from cumulo.network.model import NetworkInfo
from cumulo.rpc import Bus

RequestTuple = tuple[str | None, str | None, str | None, str | None]
Requested = Sequence[NetworkRequest | RequestTuple] | Literal["auto", "none"] | None


def as_requests(requested: Requested) -> RequestedNetworks:
    """Nova's ``(network_id, port_id, fixed_ip, tag)`` tuples as ``NetworkRequest``s."""
    if requested is None or isinstance(requested, str):
        return requested
    return [
        r
        if isinstance(r, NetworkRequest)
        else NetworkRequest(network_id=r[0], port_id=r[1], fixed_ip=r[2], tag=r[3])
        for r in requested
    ]


class NetworkAPI:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def allocate_for_instance(
        self,
        ctx: RequestContext,
        instance: InstanceRef,
        requested_networks: Requested = None,
        security_groups: Sequence[str] = (),
        bind_host_id: str = "",
    ) -> NetworkInfo:
        """Make or bind a port per NIC on ``bind_host_id``; all of them or none."""
        msg = AllocateForInstance(
            instance=instance,
            requested_networks=as_requests(requested_networks),
            security_groups=list(security_groups),
            bind_host_id=bind_host_id,
        )
        return await self.bus.call(NetworkManager.topic, msg, ctx, returns=NetworkInfo)

    async def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete the ports made for the instance, unbind the user's; safe to repeat."""
        msg = DeallocateForInstance(instance_uuid=instance_uuid)
        await self.bus.call(NetworkManager.topic, msg, ctx)

    async def validate_networks(
        self, ctx: RequestContext, requested_networks: Requested, num_instances: int
    ) -> int:
        """How many of ``num_instances`` can boot with these networks under the port quota."""
        msg = ValidateNetworks(
            requested_networks=as_requests(requested_networks), num_instances=num_instances
        )
        reply = await self.bus.call(NetworkManager.topic, msg, ctx, returns=MaxCount)
        return reply.count

    async def get_instance_nw_info(self, ctx: RequestContext, instance_uuid: str) -> NetworkInfo:
        msg = GetInstanceNwInfo(instance_uuid=instance_uuid)
        return await self.bus.call(NetworkManager.topic, msg, ctx, returns=NetworkInfo)
