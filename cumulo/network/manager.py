"""The network service's side of the bus: the compute-facing API of ``nova/network/neutron.py``."""

from __future__ import annotations

from collections.abc import Mapping

from cumulo.context import RequestContext
from cumulo.manager import Manager
from cumulo.network import access, allocation, nw_info, preflight
from cumulo.network.messages import (
    AllocateForInstance,
    DeallocateForInstance,
    GetInstanceNwInfo,
    MaxCount,
    ValidateNetworks,
    security_groups_changed,
)
from cumulo.network.model import NetworkInfo
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler


class NetworkManager(Manager):
    topic = "network"

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {
            AllocateForInstance: self.allocate_for_instance,
            DeallocateForInstance: self.deallocate_for_instance,
            ValidateNetworks: self.validate_networks,
            GetInstanceNwInfo: self.get_instance_nw_info,
        }

    async def allocate_for_instance(
        self, ctx: RequestContext, msg: AllocateForInstance
    ) -> NetworkInfo:
        network_info = await allocation.allocate_for_instance(self.runtime, ctx, msg)
        await security_groups_changed(self.runtime.bus, ctx)  # new members of its groups
        return network_info

    async def deallocate_for_instance(
        self, ctx: RequestContext, msg: DeallocateForInstance
    ) -> None:
        await allocation.deallocate_for_instance(self.runtime, ctx, msg.instance_uuid)
        await security_groups_changed(self.runtime.bus, ctx)

    async def validate_networks(self, ctx: RequestContext, msg: ValidateNetworks) -> MaxCount:
        return MaxCount(count=await preflight.validate_networks(self.runtime, ctx, msg))

    async def get_instance_nw_info(
        self, ctx: RequestContext, msg: GetInstanceNwInfo
    ) -> NetworkInfo:
        async with self.runtime.db.read() as session:
            return await nw_info.build(session, msg.instance_uuid, access.port_filter(ctx))
