"""The data plane a cumulo process runs for the guests of its compute hosts.

For each NIC the hypervisor driver plugs (os-vif's job), a tap named after the
port is enslaved to its network's Linux bridge (``brq…``), as Neutron's
Linux-bridge agent wires a port. Each network with a DHCP-enabled IPv4 subnet
gets, the way Neutron's DHCP and metadata agents serve it:

- a DHCP port in the database (``device_owner`` ``network:dhcp``) with an
  address on each such subnet, bound to the first host that needed it and
  plugged there into the bridge from the network's namespace
  ``qdhcp-<network id>``;
- a dnsmasq in that namespace serving every port of the network its fixed IP
  (static leases only), reloaded whenever a NIC is plugged or unplugged;
- the metadata service at 169.254.169.254 in the same namespace, reached by
  a classless static route the DHCP lease gives, answering each guest from
  the source address of its connection.

The security groups of the guest ports bound to this process's hosts are
applied by ``firewall.IptablesFirewall`` (chains scoped to this cloud) before a
guest starts, and again whenever the network service fans out
``SecurityGroupsChanged`` (a rule, a member or a port's filtering changed).

Routers run where ``l3_agent`` places them, on the bridges ``wiring`` makes:
with ``[network] local_ip`` a VXLAN network's bridges on all hosts are one
segment, so one DHCP server and one router serve the guests of every host.

All of it lives in the network namespace this process runs in.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path

from sqlalchemy import select

from cumulo.compute import instances
from cumulo.compute.errors import InstanceNotFound
from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db.models.network import IPAllocation, Network, Port
from cumulo.network import nw_info
from cumulo.network.agent import linux_net
from cumulo.network.agent.dhcp import Dnsmasq
from cumulo.network.agent.dhcp_view import DHCP_OWNER, ServedElsewhere, dhcp_namespace, dhcp_view
from cumulo.network.agent.firewall import IptablesFirewall
from cumulo.network.agent.l3_agent import L3Agent, router_specs
from cumulo.network.agent.metadata import MetadataProxy
from cumulo.network.agent.port_filters import port_filters
from cumulo.network.agent.wiring import Wiring
from cumulo.network.messages import (
    DATA_PLANE_TOPIC,
    DhcpPortsChanged,
    NetworkAgentsChanged,
    RoutersChanged,
    SecurityGroupsChanged,
    dhcp_ports_changed,
    network_agents_changed,
)
from cumulo.network.model import NetworkInfo, bridge_name, devname
from cumulo.network.port_store import GUEST_OWNER
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler
from cumulo.runtime import Runtime
from cumulo.virt.instance_metadata import InstanceMetadata, MetadataSource

LOG = logging.getLogger(__name__)

DNSMASQ_CHECK_INTERVAL = 2.0
"""Seconds between checks that each network's dnsmasq still runs (restarted if not)."""
RUN_DIR = Path("/run/cumulo")
"""dnsmasq re-reads its files as ``nobody``: they live where every directory is searchable,
not in the state directory (often under a private home)."""


def _cloud_digest(settings: Settings) -> str:
    return hashlib.sha256(str(settings.state_dir.resolve()).encode()).hexdigest()


def run_dir(settings: Settings) -> Path:
    """Where the data plane of the cloud of ``settings`` keeps its files on this host."""
    return RUN_DIR / _cloud_digest(settings)[:12]


def dhcp_dir_of(settings: Settings) -> Path:
    return run_dir(settings) / "dhcp"


def firewall_of(settings: Settings) -> IptablesFirewall:
    """The firewall of the cloud of ``settings``: chains of its own, beside other clouds'."""
    return IptablesFirewall(scope=_cloud_digest(settings)[:6])


class DataPlane:
    """Taps, bridges, DHCP and metadata of one process's compute hosts."""

    _planes: dict[int, DataPlane] = {}

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.dhcp_dir = dhcp_dir_of(runtime.settings)
        self._dnsmasq: dict[str, Dnsmasq] = {}
        self._metadata: dict[str, MetadataProxy] = {}
        self._watches: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()
        self.firewall = firewall_of(runtime.settings)
        self._firewall_lock = asyncio.Lock()
        self.l3 = L3Agent()
        self.wiring = Wiring(runtime)
        self._started = False
        self._firewall_refresh = _Coalesced(self.refresh_firewall, "Applying the security groups")
        self._routers_refresh = _Coalesced(self.refresh_routers, "Bringing the routers in line")
        self._wiring_refresh = _Coalesced(self.wiring.resync, "Flooding VXLAN to the hosts")

    @classmethod
    def of(cls, runtime: Runtime) -> DataPlane:
        """The process's data plane (one for all compute hosts of ``runtime``)."""
        plane = cls._planes.get(id(runtime))
        if plane is None or plane.runtime is not runtime:
            plane = cls._planes[id(runtime)] = cls(runtime)
        return plane

    async def start(self) -> None:
        """Listen for changes of security groups, routers and hosts, record this process's
        hosts, then bring the host in line with the database (``repair``); the first compute
        host of the process to start does it."""
        if self._started:
            return
        self._started = True
        if self.runtime.bus is not None:
            handlers: dict[type[Message], Handler] = {
                SecurityGroupsChanged: self._on_security_groups_changed,
                RoutersChanged: self._on_routers_changed,
                NetworkAgentsChanged: self._on_network_agents_changed,
                DhcpPortsChanged: self._on_dhcp_ports_changed,
            }
            await self.runtime.bus.serve(DATA_PLANE_TOPIC, handlers, fanout=True)
        await self.wiring.register(self.runtime.settings.compute_hosts)
        if self.wiring.local_ip is not None:
            await network_agents_changed(self.runtime.bus, RequestContext.admin_context())
        await self.repair()

    async def repair(self) -> None:
        """What a restart (of cumulo, or of the host) must find again: the tap of every guest
        port bound to this process's hosts on its bridge (and no tap on the cloud's bridges
        that no port of the cloud owns), their firewall, and DHCP and metadata for their networks
        and the ones whose DHCP this host serves (dnsmasq files rewritten, a dead dnsmasq
        started), and the routers this host runs."""
        hosts = list(self.runtime.settings.compute_hosts)
        async with self.runtime.db.read() as session:
            every_network = list(await session.scalars(select(Network.id)))
            every_port = list(await session.scalars(select(Port.id)))
            ports = list(
                await session.scalars(
                    select(Port).where(
                        Port.host_id.in_(hosts), Port.device_owner.startswith(GUEST_OWNER)
                    )
                )
            )
            rows = await session.execute(
                select(Network.id, Network.mtu).where(Network.id.in_({p.network_id for p in ports}))
            )
            mtus: dict[str, int] = {network_id: mtu for network_id, mtu in rows}
            dhcp_served = set(
                await session.scalars(
                    select(Port.network_id).where(
                        Port.host_id.in_(hosts), Port.device_owner == DHCP_OWNER
                    )
                )
            )
        networks = {p.network_id for p in ports} | dhcp_served
        await self.wiring.wire(networks)
        for port in ports:
            bridge, mtu = bridge_name(port.network_id), mtus.get(port.network_id) or 1500
            await asyncio.to_thread(
                linux_net.plug_tap, devname(port.id), bridge, port.mac_address, mtu
            )
        owned = {devname(p) for p in every_port}
        for tap in await asyncio.to_thread(stray_taps, every_network, owned):
            LOG.warning("Removing tap %s: no port of the cloud owns it", tap)
            await asyncio.to_thread(linux_net.unplug_tap, tap)
        await self.refresh_firewall()
        for network_id in networks:
            await self.serve_network(network_id)
        await self.refresh_routers()

    # --- os-vif's side: the driver plugs and unplugs NICs ---------------------------------

    async def plug(self, network_info: NetworkInfo) -> None:
        """Each NIC's tap on its network's bridge, and its network's DHCP and metadata."""
        await self.wiring.wire({vif.network.id for vif in network_info.vifs})
        for vif in network_info.vifs:
            mtu = vif.network.mtu or 1500
            await asyncio.to_thread(
                linux_net.plug_tap, vif.devname, vif.network.bridge, vif.address, mtu
            )
        if network_info.vifs:
            await self.refresh_firewall()
        for network_id in {vif.network.id for vif in network_info.vifs}:
            await self.serve_network(network_id)
        if network_info.vifs:
            self._routers_refresh.trigger()

    async def unplug(self, network_info: NetworkInfo) -> None:
        """Remove the NICs' taps; their networks' DHCP forgets the ports gone meanwhile."""
        for vif in network_info.vifs:
            await asyncio.to_thread(linux_net.unplug_tap, vif.devname)
        if network_info.vifs:
            await self.refresh_firewall()
        for network_id in {vif.network.id for vif in network_info.vifs}:
            await self.serve_network(network_id)
        if network_info.vifs:
            self._routers_refresh.trigger()

    async def held_taps(self) -> set[str]:
        """The guest taps a process holds open; a running guest's tap missing from them is
        a NIC whose wire was cut (a tap deleted under the guest)."""
        return await asyncio.to_thread(linux_net.held_taps)

    # --- Neutron's security group agent ---------------------------------------------------

    async def refresh_firewall(self) -> None:
        """Apply the filters of every guest port bound to this process's hosts."""
        async with self._firewall_lock:
            async with self.runtime.db.read() as session:
                filters = await port_filters(session, self.runtime.settings.compute_hosts)
            await self.firewall.apply(filters)

    async def _on_security_groups_changed(
        self, ctx: RequestContext, msg: SecurityGroupsChanged
    ) -> None:
        self._firewall_refresh.trigger()

    # --- Neutron's L3 agent ----------------------------------------------------------------

    async def refresh_routers(self) -> None:
        """Make the routers this process's hosts run, remove the rest; a router no host runs
        yet is taken by the first host one of whose guests it routes for."""
        async with self.runtime.db.write() as session:
            specs = await router_specs(session, self.runtime.settings.compute_hosts)
        networks = {p.network_id for s in specs for p in (*s.interfaces, s.gateway) if p}
        await self.wiring.wire(networks)
        await self.l3.sync(specs)

    async def _on_routers_changed(self, ctx: RequestContext, msg: RoutersChanged) -> None:
        self._routers_refresh.trigger()

    async def _on_dhcp_ports_changed(self, ctx: RequestContext, msg: DhcpPortsChanged) -> None:
        if msg.network_id in self._dnsmasq:
            await self.serve_network(msg.network_id)

    async def _on_network_agents_changed(
        self, ctx: RequestContext, msg: NetworkAgentsChanged
    ) -> None:
        self._wiring_refresh.trigger()

    # --- Neutron's DHCP and metadata agents ----------------------------------------------

    async def serve_network(self, network_id: str) -> None:
        """Bring the network's DHCP and metadata in line with the database; when another
        host serves them, tell it to (its ports here changed)."""
        async with self._lock:
            try:
                async with self.runtime.db.write() as session:
                    served = await dhcp_view(session, self.runtime.settings, network_id)
            except ServedElsewhere:
                served = None
                await dhcp_ports_changed(self.runtime.bus, network_id)
            if served is None:
                await self._stop_network(network_id)
                return
            network, port, cidrs = served
            namespace = dhcp_namespace(network_id)
            await asyncio.to_thread(
                linux_net.plug_namespace_port,
                bridge_name(network_id), port.id, namespace, port.mac_address, cidrs, network.mtu,
            )  # fmt: skip
            dnsmasq = self._dnsmasq.get(network_id)
            if dnsmasq is None:
                interface = linux_net.namespace_device(port.id)
                dnsmasq = Dnsmasq(network, self.dhcp_dir, namespace, interface)
                await dnsmasq.start()
                self._dnsmasq[network_id] = dnsmasq
                self._watches[network_id] = asyncio.create_task(
                    dnsmasq.watch(DNSMASQ_CHECK_INTERVAL)
                )
            else:
                await dnsmasq.reload(network)
            if network_id not in self._metadata:
                proxy = MetadataProxy(namespace, lambda ip: self._metadata_for(network_id, ip))
                await proxy.start()
                self._metadata[network_id] = proxy

    async def _metadata_for(self, network_id: str, address: str) -> InstanceMetadata | None:
        """The metadata of the instance whose port on the network holds ``address``."""
        async with self.runtime.db.read() as session:
            device = await session.scalar(
                select(Port.device_id)
                .join(IPAllocation, IPAllocation.port_id == Port.id)
                .where(IPAllocation.network_id == network_id, IPAllocation.ip_address == address)
            )
            if not device:
                return None
            try:
                instance = await instances.get_instance(session, None, device)
            except InstanceNotFound:
                return None
            network_info = await nw_info.build(session, instance.uuid)
        return InstanceMetadata(MetadataSource.from_instance(instance, network_info))

    async def _stop_network(self, network_id: str) -> None:
        watch = self._watches.pop(network_id, None)
        if watch is not None:
            watch.cancel()
        proxy = self._metadata.pop(network_id, None)
        if proxy is not None:
            await proxy.stop()
        dnsmasq = self._dnsmasq.pop(network_id, None)
        if dnsmasq is not None:
            await dnsmasq.stop()

    async def stop(self) -> None:
        """Stop every dnsmasq and metadata proxy (the process is stopping; guests keep their
        taps and leases until they are deleted or ``cumulo down`` powers them off)."""
        for refresh in (self._firewall_refresh, self._routers_refresh, self._wiring_refresh):
            refresh.cancel()
        async with self._lock:
            for network_id in list(self._dnsmasq.keys() | self._metadata.keys()):
                await self._stop_network(network_id)


def stray_taps(network_ids: Collection[str], owned: Collection[str]) -> dict[str, str]:
    """The guest taps on the bridges of ``network_ids`` that are not ``owned``, with the
    bridge each is on (left by a guest deleted while its host was down, or made by hand).
    ``owned`` should name the taps of every port of the cloud, not only this process's:
    another process's compute host may share this namespace."""
    taps = linux_net.list_taps()
    found: dict[str, str] = {}
    for network_id in network_ids:
        bridge = bridge_name(network_id)
        for tap in sorted((linux_net.bridge_ports(bridge) & taps) - set(owned)):
            found[tap] = bridge
    return found


class _Coalesced:
    """A refresh run in the background on demand; demands arriving while it runs make
    one more run, not one each."""

    def __init__(self, refresh: Callable[[], Awaitable[None]], what: str) -> None:
        self._refresh = refresh
        self._what = what
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def trigger(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._until_settled())

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _until_settled(self) -> None:
        while True:
            self._again = False
            try:
                await self._refresh()
            except Exception:
                LOG.exception("%s failed", self._what)
            if not self._again:
                return
