"""A network's wire on this host: its bridge, and across hosts its VXLAN segment.

Each host with ``[network] local_ip`` records it (``network_agents``, Neutron's agent
``tunneling_ip``). A VXLAN network present on such a host gets a ``vxlan-<vni>``
device on its bridge that floods to every other recorded host (head-end
replication, as Neutron's Linux-bridge agent without l2population), so the
network's bridges on all hosts are one L2 segment. A host without ``local_ip``
keeps its VXLAN networks' bridges to itself. A flat network's bridge takes in the host
interface ``[network] physical_interface_mappings`` names for its physical network (an
uplink to the world, or to the same network on other hosts); without one it stays local.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.models.network import Network, NetworkAgent
from cumulo.network.agent import linux_net
from cumulo.network.model import bridge_name
from cumulo.runtime import Runtime


class Wiring:
    """The bridges and VXLAN devices of one process's data plane."""

    def __init__(self, runtime: Runtime, netns: str | None = None) -> None:
        self.runtime = runtime
        self.netns = netns
        """Where the bridges are: this process's namespace when None (tests name one)."""
        self.local_ip = runtime.settings.network.local_ip
        self.uplinks = runtime.settings.network.physical_interface_mappings
        self._vxlans: dict[str, tuple[int, int]] = {}
        """The VXLAN networks wired here: network id -> (VNI, MTU)."""
        self._lock = asyncio.Lock()

    async def register(self, hosts: Collection[str]) -> None:
        """Record this process's hosts and their tunnel address (none without ``local_ip``)."""
        if self.local_ip is None:
            return
        async with self.runtime.db.write() as session:
            for host in hosts:
                row = await session.get(NetworkAgent, host)
                if row is None:
                    session.add(NetworkAgent(host=host, local_ip=self.local_ip))
                else:
                    row.local_ip = self.local_ip

    async def wire(self, network_ids: Collection[str]) -> None:
        """Each network's bridge, with its VXLAN device when the network spans hosts."""
        if not network_ids:
            return
        async with self.runtime.db.read() as session:
            rows = (
                await session.execute(
                    select(
                        Network.id,
                        Network.mtu,
                        Network.network_type,
                        Network.segmentation_id,
                        Network.physical_network,
                    ).where(Network.id.in_(list(network_ids)))
                )
            ).all()
            remotes = await self._remotes(session) if self.local_ip else set()
        async with self._lock:
            for network_id, mtu, network_type, vni, physical_network in rows:
                bridge = bridge_name(network_id)
                await asyncio.to_thread(linux_net.ensure_bridge, bridge, mtu, self.netns)
                if self.local_ip and network_type == "vxlan" and vni is not None:
                    await self._ensure_vxlan(network_id, vni, mtu, remotes)
                uplink = self.uplinks.get(physical_network or "")
                if network_type == "flat" and uplink:
                    await asyncio.to_thread(linux_net.attach_interface, uplink, bridge, self.netns)

    async def resync(self) -> None:
        """Flood every wired VXLAN segment to the hosts recorded now (one joined or left)."""
        if self.local_ip is None:
            return
        async with self.runtime.db.read() as session:
            remotes = await self._remotes(session)
        async with self._lock:
            for network_id, (vni, mtu) in list(self._vxlans.items()):
                await self._ensure_vxlan(network_id, vni, mtu, remotes)

    async def _ensure_vxlan(self, network_id: str, vni: int, mtu: int, remotes: set[str]) -> None:
        assert self.local_ip is not None
        await asyncio.to_thread(
            linux_net.ensure_vxlan,
            vni, bridge_name(network_id), self.local_ip, remotes, None, mtu, self.netns,
        )  # fmt: skip
        self._vxlans[network_id] = (vni, mtu)

    async def _remotes(self, session: AsyncSession) -> set[str]:
        addresses = await session.scalars(select(NetworkAgent.local_ip).distinct())
        return {a for a in addresses if a != self.local_ip}


async def unwire(network: Network) -> None:
    """Remove the network's VXLAN device and bridge from this host (``cumulo down``)."""
    if network.segmentation_id is not None and network.network_type == "vxlan":
        await asyncio.to_thread(linux_net.delete_vxlan, network.segmentation_id)
    await asyncio.to_thread(linux_net.delete_bridge, bridge_name(network.id))
