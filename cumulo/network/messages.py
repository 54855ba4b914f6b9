"""What the network service answers on the bus: Nova's ``nova/network/neutron.py`` API.

``requested_networks`` is what ``POST /servers`` asked for: a list of
``NetworkRequest`` (Nova's ``(network_id, port_id, fixed_ip, tag)``), or
microversion 2.37's ``"auto"`` / ``"none"``, or ``None`` when the request
named no networks (before 2.37), which is treated as ``"auto"`` except that
having no network at all is not an error.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel

from cumulo.context import RequestContext
from cumulo.network.model import NetworkInfo
from cumulo.rpc import Bus
from cumulo.rpc.messages import Message

LOG = logging.getLogger(__name__)

__all__ = [
    "AllocateForInstance",
    "DeallocateForInstance",
    "DhcpPortsChanged",
    "GetInstanceNwInfo",
    "InstanceRef",
    "MaxCount",
    "NetworkAgentsChanged",
    "NetworkInfo",
    "NetworkRequest",
    "RequestedNetworks",
    "RoutersChanged",
    "SecurityGroupsChanged",
    "ValidateNetworks",
    "dhcp_ports_changed",
    "network_agents_changed",
    "routers_changed",
    "security_groups_changed",
]


class NetworkRequest(BaseModel):
    """One NIC: a network, or a port the user made; an address; a device tag."""

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    tag: str | None = None


RequestedNetworks = list[NetworkRequest] | Literal["auto", "none"] | None


class InstanceRef(BaseModel):
    """The instance fields allocation needs (Nova passes the whole instance)."""

    uuid: str
    project_id: str
    availability_zone: str = "nova"


class AllocateForInstance(Message):
    instance: InstanceRef
    requested_networks: RequestedNetworks = None
    security_groups: list[str] = []
    bind_host_id: str = ""


class DeallocateForInstance(Message):
    instance_uuid: str


class GetInstanceNwInfo(Message):
    instance_uuid: str


class ValidateNetworks(Message):
    requested_networks: RequestedNetworks = None
    num_instances: int = 1


class MaxCount(Message):
    """How many of the requested instances the project's port quota allows."""

    count: int


DATA_PLANE_TOPIC = "network.data_plane"
"""Fanned out to every process running a data plane."""


class SecurityGroupsChanged(Message):
    """A rule, a group's members or a port's filtering changed: every host's firewall reads
    its ports' filters again (Neutron's ``security_groups_rule_updated`` and
    ``security_groups_member_updated``)."""

    TYPE = "network.SecurityGroupsChanged"


class RoutersChanged(Message):
    """A router, its interfaces, its gateway or a floating IP changed: every data plane
    brings the routers it serves in line with the database (Neutron's ``routers_updated``)."""

    TYPE = "network.RoutersChanged"


class NetworkAgentsChanged(Message):
    """A host recorded its tunnel address: every data plane floods its VXLAN segments to
    the hosts recorded now."""

    TYPE = "network.NetworkAgentsChanged"


class DhcpPortsChanged(Message):
    """Ports of the network were plugged or unplugged on a host that does not serve its DHCP:
    the one that does reloads (Neutron's ``port_update_end`` to the DHCP agent)."""

    TYPE = "network.DhcpPortsChanged"
    network_id: str


async def security_groups_changed(bus: Bus | None, ctx: RequestContext) -> None:
    await _tell_data_planes(bus, ctx, SecurityGroupsChanged(), "security groups")


async def routers_changed(bus: Bus | None, ctx: RequestContext) -> None:
    await _tell_data_planes(bus, ctx, RoutersChanged(), "routers")


async def network_agents_changed(bus: Bus | None, ctx: RequestContext) -> None:
    await _tell_data_planes(bus, ctx, NetworkAgentsChanged(), "network agents")


async def dhcp_ports_changed(bus: Bus | None, network_id: str) -> None:
    ctx = RequestContext.admin_context()
    await _tell_data_planes(bus, ctx, DhcpPortsChanged(network_id=network_id), "DHCP ports")


async def _tell_data_planes(
    bus: Bus | None, ctx: RequestContext, message: Message, what: str
) -> None:
    """Fan ``message`` out; with no data plane listening it is dropped, and a failure to
    send only delays the change to the data planes' next refresh."""
    if bus is None:
        return
    try:
        await bus.fanout(DATA_PLANE_TOPIC, message, ctx)
    except Exception:
        LOG.warning("Could not tell the data planes that %s changed", what, exc_info=True)
