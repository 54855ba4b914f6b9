"""Routers on a host, the way Neutron's legacy L3 agent makes them.

Each router is a network namespace ``qrouter-<router id>`` with IP forwarding on:

- one ``qr-…`` veth per interface, on the tenant network's bridge, holding the
  subnet's gateway address;
- with a gateway, one ``qg-…`` veth on the external network's bridge holding the
  gateway address and every associated floating IP (as /32, so the namespace
  answers ARP for them), and a default route to the external subnet's gateway;
- a ``nat`` table of its own: each floating IP DNATed to its fixed address and
  the fixed address SNATed to it on the way out, then (``enable_snat``) whatever
  else leaves by the gateway SNATed to the gateway address.

The namespace is the router's alone, so its whole ``nat`` table is rewritten on
every change (``iptables-restore`` without ``--noflush``).

A router runs on one host: the first whose guests it routes for takes it
(``routers.host``) and keeps it; guests on other hosts reach it over their
network's VXLAN segment.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.models.network import FloatingIP, IPAllocation, Network, Port, Router, Subnet
from cumulo.network.agent import linux_net
from cumulo.network.agent.linux_net import NetworkPlumbingError
from cumulo.network.l3 import ROUTER_GATEWAY, ROUTER_INTERFACE
from cumulo.network.model import NIC_NAME_LEN, bridge_name
from cumulo.network.port_store import GUEST_OWNER

NAMESPACE_PREFIX = "qrouter-"
INTERNAL_PREFIX = "qr-"
GATEWAY_PREFIX = "qg-"


def router_namespace(router_id: str) -> str:
    return NAMESPACE_PREFIX + router_id


def internal_device(port_id: str) -> str:
    return (INTERNAL_PREFIX + port_id)[:NIC_NAME_LEN]


def gateway_device(port_id: str) -> str:
    return (GATEWAY_PREFIX + port_id)[:NIC_NAME_LEN]


@dataclass(frozen=True)
class RouterPort:
    """An interface or the gateway: its port, network and addresses (``10.0.0.1/24``)."""

    port_id: str
    network_id: str
    mac: str
    cidrs: tuple[str, ...]
    mtu: int


@dataclass(frozen=True)
class FloatingAddress:
    floating_ip: str
    fixed_ip: str


@dataclass(frozen=True)
class RouterSpec:
    """What one router's namespace must hold."""

    id: str
    interfaces: tuple[RouterPort, ...]
    gateway: RouterPort | None = None
    next_hop: str | None = None
    """The external subnet's gateway: the namespace's default route."""
    enable_snat: bool = True
    floating: tuple[FloatingAddress, ...] = ()

    @property
    def gateway_address(self) -> str | None:
        if self.gateway is None:
            return None
        for cidr in self.gateway.cidrs:
            address = ipaddress.ip_interface(cidr)
            if address.version == 4 and address.network.prefixlen < 32:
                return str(address.ip)
        return None

    def nat_table(self) -> str:
        """The router's whole ``nat`` table, in ``iptables-restore`` form."""
        lines = ["*nat", *(f":{chain} ACCEPT [0:0]" for chain in _NAT_CHAINS)]
        if self.gateway is not None:
            out = gateway_device(self.gateway.port_id)
            for fip in self.floating:
                dnat = f"-d {fip.floating_ip}/32 -j DNAT --to-destination {fip.fixed_ip}"
                lines += [f"-A PREROUTING {dnat}", f"-A OUTPUT {dnat}"]
                lines.append(
                    f"-A POSTROUTING -s {fip.fixed_ip}/32 -o {out} "
                    f"-j SNAT --to-source {fip.floating_ip}"
                )
            if self.enable_snat and self.gateway_address is not None:
                lines.append(f"-A POSTROUTING -o {out} -j SNAT --to-source {self.gateway_address}")
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


_NAT_CHAINS = ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")


async def router_specs(session: AsyncSession, hosts: Collection[str]) -> list[RouterSpec]:
    """The routers ``hosts`` run, after they take the ones no host runs yet that have an
    interface on a network of a guest port bound to them (``session`` must be writable)."""
    hosts = list(hosts)
    guest_networks = select(Port.network_id).where(
        Port.host_id.in_(hosts), Port.device_owner.startswith(GUEST_OWNER)
    )
    routing_for_guests = select(Port.device_id).where(
        Port.device_owner == ROUTER_INTERFACE, Port.network_id.in_(guest_networks)
    )
    unclaimed = select(Router.id).where(Router.id.in_(routing_for_guests), Router.host.is_(None))
    if hosts and await session.scalar(unclaimed.limit(1)) is not None:
        await session.execute(
            update(Router)
            .where(Router.id.in_(routing_for_guests), Router.host.is_(None))
            .values(host=hosts[0])
        )
    routers = list(
        await session.scalars(
            select(Router).where(Router.host.in_(hosts), Router.admin_state_up.is_(True))
        )
    )
    if not routers:
        return []
    ids = [r.id for r in routers]
    ports = list(
        await session.scalars(
            select(Port).where(
                Port.device_id.in_(ids),
                Port.device_owner.in_((ROUTER_INTERFACE, ROUTER_GATEWAY)),
            )
        )
    )
    cidrs, next_hops = await _addresses(session, [p.id for p in ports])
    rows = await session.execute(
        select(Network.id, Network.mtu).where(Network.id.in_({p.network_id for p in ports}))
    )
    mtus: dict[str, int] = {network_id: mtu for network_id, mtu in rows}
    floating: dict[str, list[FloatingAddress]] = defaultdict(list)
    for fip in await session.scalars(
        select(FloatingIP).where(
            FloatingIP.router_id.in_(ids), FloatingIP.fixed_ip_address.is_not(None)
        )
    ):
        assert fip.fixed_ip_address is not None
        floating[str(fip.router_id)].append(
            FloatingAddress(fip.floating_ip_address, fip.fixed_ip_address)
        )

    def router_port(port: Port, extra: Sequence[str] = ()) -> RouterPort:
        held = tuple(sorted(cidrs.get(port.id, ()))) + tuple(extra)
        return RouterPort(
            port.id, port.network_id, port.mac_address, held, mtus.get(port.network_id) or 1500
        )

    specs = []
    for router in routers:
        own = [p for p in ports if p.device_id == router.id]
        interfaces = tuple(
            router_port(p)
            for p in sorted(own, key=lambda p: p.id)
            if p.device_owner == ROUTER_INTERFACE
        )
        gateway_port = next((p for p in own if p.id == router.gw_port_id), None)
        fips = tuple(sorted(floating.get(router.id, []), key=lambda f: f.floating_ip))
        gateway = None
        if gateway_port is not None:
            gateway = router_port(gateway_port, [f"{f.floating_ip}/32" for f in fips])
        specs.append(
            RouterSpec(
                id=router.id,
                interfaces=interfaces,
                gateway=gateway,
                next_hop=next_hops.get(gateway_port.id) if gateway_port else None,
                enable_snat=router.enable_snat,
                floating=fips if gateway is not None else (),
            )
        )
    return specs


async def _addresses(
    session: AsyncSession, port_ids: list[str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each port's addresses with their prefix length, and the IPv4 gateway of its subnet."""
    rows = await session.execute(
        select(IPAllocation.port_id, IPAllocation.ip_address, Subnet.cidr, Subnet.gateway_ip)
        .join(Subnet, Subnet.id == IPAllocation.subnet_id)
        .where(IPAllocation.port_id.in_(port_ids))
    )
    cidrs: dict[str, list[str]] = defaultdict(list)
    next_hops: dict[str, str] = {}
    for port_id, address, cidr, gateway_ip in rows:
        cidrs[port_id].append(f"{address}/{cidr.partition('/')[2]}")
        if gateway_ip and gateway_ip != address and ipaddress.ip_address(address).version == 4:
            next_hops.setdefault(port_id, gateway_ip)
    return cidrs, next_hops


class L3Agent:
    """Brings the routers of one data plane in line with their specs; ``netns`` is where
    the host's bridges are (this process's namespace when None)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._served: set[str] = set()
        self._lock = asyncio.Lock()

    async def sync(self, specs: list[RouterSpec]) -> None:
        """Make each router in ``specs``; remove the ones this agent made that are not."""
        async with self._lock:
            for spec in specs:
                await self._apply(spec)
                self._served.add(spec.id)
            for router_id in self._served - {s.id for s in specs}:
                await remove_router(router_id)
                self._served.discard(router_id)

    async def _apply(self, spec: RouterSpec) -> None:
        namespace = router_namespace(spec.id)
        wanted: set[str] = set()
        ports = [(p, internal_device(p.port_id)) for p in spec.interfaces]
        if spec.gateway is not None:
            ports.append((spec.gateway, gateway_device(spec.gateway.port_id)))
        for port, device in ports:
            bridge = bridge_name(port.network_id)
            await asyncio.to_thread(linux_net.ensure_bridge, bridge, port.mtu, self.netns)
            await asyncio.to_thread(
                linux_net.plug_namespace_port,
                bridge, port.port_id, namespace, port.mac, list(port.cidrs), port.mtu,
                self.netns, device,
            )  # fmt: skip
            wanted.add(device)
        await asyncio.to_thread(linux_net.ensure_namespace, namespace)
        for prefix in (INTERNAL_PREFIX, GATEWAY_PREFIX):
            for stale in await asyncio.to_thread(linux_net.list_veths, prefix, namespace) - wanted:
                await asyncio.to_thread(linux_net.delete_link, stale, namespace)
        if spec.gateway is not None and spec.next_hop is not None:
            await asyncio.to_thread(linux_net.set_default_route, namespace, spec.next_hop)
        await _in_namespace(namespace, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        await _in_namespace(namespace, ["iptables-restore"], spec.nat_table())


async def remove_router(router_id: str) -> None:
    """Remove the router's namespace; its veths, and their ends on the bridges, go with it."""
    await asyncio.to_thread(linux_net.delete_namespace, router_namespace(router_id))


async def _in_namespace(namespace: str, argv: list[str], stdin: str | None = None) -> None:
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", namespace, *argv,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate(stdin.encode() if stdin is not None else None)
    if process.returncode != 0:
        reason = f"{' '.join(argv)} in {namespace}: {err.decode(errors='replace').strip()}"
        raise NetworkPlumbingError(reason=reason)
