"""``cumulo down``'s side of the data plane: what a stopped cloud left on this host."""

from __future__ import annotations

import asyncio
import shutil

from sqlalchemy import select

from cumulo.db.models.network import Network, Port, Router
from cumulo.network.agent import linux_net
from cumulo.network.agent.data_plane import dhcp_dir_of, firewall_of, run_dir
from cumulo.network.agent.dhcp import DhcpNetwork, Dnsmasq
from cumulo.network.agent.dhcp_view import DHCP_OWNER, dhcp_namespace
from cumulo.network.agent.l3_agent import remove_router
from cumulo.network.agent.wiring import unwire
from cumulo.network.model import bridge_name, devname
from cumulo.runtime import Runtime


async def tear_down(runtime: Runtime) -> int:
    """Remove what the data plane of a stopped cloud left on this host (``cumulo down``):
    a dnsmasq an unclean stop left running, the DHCP namespaces, the taps and bridges of
    the cloud's networks; how many networks had something to remove."""
    dhcp_dir = dhcp_dir_of(runtime.settings)
    async with runtime.db.read() as session:
        networks = list(await session.scalars(select(Network)))
        ports = list(await session.scalars(select(Port)))
        routers = list(await session.scalars(select(Router.id)))
    for router_id in routers:
        await remove_router(router_id)
    removed = 0
    for network in networks:
        namespace = dhcp_namespace(network.id)
        bridge = bridge_name(network.id)
        present = await asyncio.to_thread(linux_net.namespace_exists, namespace) or (
            await asyncio.to_thread(linux_net.link_exists, bridge)
        )
        await Dnsmasq(DhcpNetwork(network.id, network.mtu, ()), dhcp_dir, namespace, "").stop()
        for port in ports:
            if port.network_id != network.id:
                continue
            if port.device_owner == DHCP_OWNER:
                await asyncio.to_thread(linux_net.unplug_namespace_port, port.id)
            else:
                await asyncio.to_thread(linux_net.unplug_tap, devname(port.id))
        await unwire(network)
        await asyncio.to_thread(linux_net.delete_namespace, namespace)
        removed += present
    await firewall_of(runtime.settings).remove_all()
    await asyncio.to_thread(shutil.rmtree, run_dir(runtime.settings), True)
    return removed
