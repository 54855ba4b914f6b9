"""An instance's network as a virt driver needs it, in the shape of ``nova/network/model.py``.

``NetworkInfo`` holds one ``VIF`` per NIC, in the instance's order; each VIF
carries its network, that network's subnets (only those the port has an
address on) and the addresses. Everything is a pydantic model, so it crosses
the bus as JSON and a driver reads typed attributes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from cumulo.rpc.messages import Message

NIC_NAME_LEN = 14


class IP(BaseModel):
    address: str
    type: Literal["fixed", "floating", "gateway", "dns"] = "fixed"
    version: int = 4


class FixedIP(IP):
    floating_ips: list[IP] = []


class Route(BaseModel):
    cidr: str
    gateway: IP | None = None
    interface: str | None = None


class Subnet(BaseModel):
    id: str
    cidr: str
    version: int = 4
    gateway: IP | None = None
    dns: list[IP] = []
    ips: list[FixedIP] = []
    routes: list[Route] = []
    dhcp_enabled: bool = True


class Network(BaseModel):
    id: str
    label: str
    bridge: str
    mtu: int
    project_id: str
    subnets: list[Subnet] = []


class VIF(BaseModel):
    id: str
    address: str
    """The MAC address."""
    network: Network
    type: str
    details: dict[str, Any] = {}
    devname: str
    vnic_type: str = "normal"
    active: bool = False
    preserve_on_delete: bool = False
    profile: dict[str, Any] = {}
    tag: str | None = None
    """The device tag the user gave the NIC at boot (Nova's ``VirtualInterface.tag``)."""

    def fixed_ips(self) -> list[FixedIP]:
        return [ip for subnet in self.network.subnets for ip in subnet.ips]


class NetworkInfo(Message):
    """The NICs of one instance, in order (Nova's ``NetworkInfo``, a list of VIFs)."""

    vifs: list[VIF] = []

    def fixed_ips(self) -> list[FixedIP]:
        return [ip for vif in self.vifs for ip in vif.fixed_ips()]


def devname(port_id: str) -> str:
    """The host's tap device for a port: ``tap`` and the port id, cut to 14 characters."""
    return ("tap" + port_id)[:NIC_NAME_LEN]


def bridge_name(network_id: str) -> str:
    """The host bridge of a network (Neutron's Linux bridge naming: ``brq`` + 11 characters)."""
    return ("brq" + network_id)[:NIC_NAME_LEN]
