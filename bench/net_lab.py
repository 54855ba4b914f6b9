"""The namespaces ``bench/net.py`` measures in: a "host" with the network's bridge, the
DHCP namespace and its dnsmasq, guests joined by veths, and the process helpers that
make and remove them (every one registered on an ``AsyncExitStack``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import tempfile
import threading
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute

from cumulo.network.agent import linux_net
from cumulo.network.agent.dhcp import DhcpHost, DhcpNetwork, DhcpSubnet, Dnsmasq
from cumulo.network.agent.firewall import FirewallRule, IptablesFirewall, PortFilter
from cumulo.network.model import bridge_name, devname

PREFIX = "10.77.0"
DHCP_CIDR = f"{PREFIX}.2/24"
MEMBERS = (f"{PREFIX}.200", f"{PREFIX}.201", f"{PREFIX}.202")
"""The remote group's members in the lab: addresses no guest holds, so B is not one."""
MTU = 1500
TCP_PORT = 8080
ADDRESS_POLL = 0.002
LEASE_WITHIN = 10.0
PROBE_EVERY = 0.005
PROBE_TIMEOUT = 0.25
PROBE_WITHIN = 5.0
SAVE_TOOLS = ("iptables-save", "ip6tables-save", "ebtables-save")

UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc runs this with the lease in its environment: the guest takes its address.
[ "$1" = bound ] || exit 0
exec ip addr add "$ip/$mask" dev "$interface"
"""

LISTENER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(512)
print("ready", flush=True)
while True:
    server.accept()[0].close()
"""

PROBER = """
import asyncio, sys, time
host, port, every, timeout, within = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:6])

async def until(want_open):
    met = asyncio.get_running_loop().create_future()

    async def attempt():
        tried = time.monotonic()
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError):
            if not want_open and not met.done():
                met.set_result(tried)
            return
        writer.close()
        if want_open and not met.done():
            met.set_result(time.monotonic())

    tasks = []
    try:
        async with asyncio.timeout(within):
            while not met.done():
                tasks.append(asyncio.ensure_future(attempt()))
                await asyncio.wait([met], timeout=every)
        return met.result()
    except TimeoutError:
        return None
    finally:
        for task in tasks:
            task.cancel()

async def main():
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        print(await until(line == "open"), flush=True)

asyncio.run(main())
"""


def group_rules(members: tuple[str, ...], *extra: FirewallRule) -> tuple[FirewallRule, ...]:
    """The bench's security group: egress anywhere, ICMP and SSH in, anything from members."""
    return (
        FirewallRule("egress"),
        FirewallRule("egress", "IPv6"),
        FirewallRule("ingress", protocol="icmp"),
        FirewallRule("ingress", protocol="tcp", port_range_min=22, port_range_max=22),
        FirewallRule("ingress", remote_ips=members),
        *extra,
    )


def tcp_in(port: int) -> FirewallRule:
    return FirewallRule("ingress", protocol="tcp", port_range_min=port, port_range_max=port)


# --- processes and namespaces ---------------------------------------------------------------


def in_ns(namespace: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *argv]


async def run(*argv: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}): {err.decode()}")
    return out.decode()


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await process.wait()


async def spawn(stack: AsyncExitStack, argv: list[str], **pipes: Any) -> asyncio.subprocess.Process:
    """A child killed when ``stack`` closes (before the namespaces it runs in are deleted)."""
    process = await asyncio.create_subprocess_exec(*argv, **pipes)
    stack.push_async_callback(stop, process)
    return process


async def background(stack: AsyncExitStack, argv: list[str]) -> asyncio.subprocess.Process:
    """A child that talks over its stdin and stdout, once it has said ``ready``."""
    pipe = asyncio.subprocess.PIPE
    process = await spawn(stack, argv, stdin=pipe, stdout=pipe)
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), 10)
    if first.strip() != b"ready":
        raise RuntimeError(f"{argv[:6]} did not start: {first!r}")
    return process


async def namespace(stack: AsyncExitStack, name: str) -> str:
    """A namespace deleted when ``stack`` closes (with every link in it)."""
    stack.push_async_callback(asyncio.to_thread, linux_net.delete_namespace, name)
    await asyncio.to_thread(linux_net.ensure_namespace, name)
    return name


class AddressWatch:
    """The moment ``address`` shows up in a namespace, seen over netlink from a thread
    whose socket is open before the clock starts and which polls only once told to."""

    def __init__(self, namespace: str, address: str) -> None:
        self.namespace = namespace
        self.address = address
        self._opened = threading.Event()
        self._go = threading.Event()
        self._done = threading.Event()
        self._seen: asyncio.Future[float | None] | None = None

    async def __aenter__(self) -> AddressWatch:
        self._seen = asyncio.ensure_future(asyncio.to_thread(self._poll))
        try:
            await asyncio.to_thread(self._opened.wait, 10)
        except BaseException:
            await self.__aexit__()  # the thread must end, or asyncio.run waits for it
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._done.set()
        self._go.set()
        if self._seen is not None:
            with contextlib.suppress(Exception):
                await self._seen

    async def seen(self) -> float | None:
        assert self._seen is not None
        self._go.set()
        return await self._seen

    def _poll(self) -> float | None:
        try:
            with IPRoute(netns=self.namespace, flags=0) as ipr:
                self._opened.set()
                self._go.wait(60)
                deadline = time.monotonic() + LEASE_WITHIN
                while not self._done.is_set() and time.monotonic() < deadline:
                    if any(a.get("address") == self.address for a in ipr.addr("dump")):
                        return time.monotonic()
                    time.sleep(ADDRESS_POLL)
                return None
        finally:
            self._opened.set()


# --- the lab: a host with a network, its DHCP and guests -------------------------------------


@dataclasses.dataclass(frozen=True)
class Guest:
    namespace: str
    port_id: str
    mac: str
    ip: str

    @property
    def nic(self) -> str:
        return linux_net.namespace_device(self.port_id)

    def filter(self, *extra: FirewallRule) -> PortFilter:
        rules = group_rules(MEMBERS, *extra)
        return PortFilter(self.port_id, devname(self.port_id), self.mac, (self.ip,), rules=rules)

    def dhcp_host(self) -> DhcpHost:
        return DhcpHost(self.port_id, self.mac, self.ip, "host-" + self.ip.replace(".", "-"))


@dataclasses.dataclass
class Lab:
    tag: str
    stack: AsyncExitStack
    scratch: Path
    host: str
    dhcp: str
    network_id: str
    dhcp_port: str
    subnet: DhcpSubnet
    dnsmasq: Dnsmasq
    firewall: IptablesFirewall
    guests: list[Guest] = dataclasses.field(default_factory=list)

    @property
    def bridge(self) -> str:
        return bridge_name(self.network_id)

    @property
    def udhcpc_script(self) -> Path:
        return self.scratch / "udhcpc.sh"

    def network(self) -> DhcpNetwork:
        hosts = tuple(guest.dhcp_host() for guest in self.guests)
        return DhcpNetwork(self.network_id, MTU, (self.subnet,), hosts)

    async def plug_dhcp_port(self) -> None:
        await asyncio.to_thread(
            linux_net.plug_namespace_port,
            self.bridge, self.dhcp_port, self.dhcp, "fa:16:3e:00:00:02", [DHCP_CIDR], MTU,
            self.host,
        )  # fmt: skip

    async def apply(self, extra: dict[str, tuple[FirewallRule, ...]] | None = None) -> None:
        """The firewall of every guest so far, with ``extra`` rules for some (by port id)."""
        extra = extra or {}
        await self.firewall.apply([g.filter(*extra.get(g.port_id, ())) for g in self.guests])


async def make_lab(stack: AsyncExitStack, tag: str) -> Lab:
    """A host namespace with the network's bridge, its DHCP namespace port and dnsmasq."""
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="cumulo-net-bench-"))
    stack.callback(shutil.rmtree, scratch, True)
    await asyncio.to_thread(scratch.chmod, 0o755)  # dnsmasq re-reads its files as nobody
    network_id = str(uuid.uuid4())
    host = await namespace(stack, f"bn-{tag}-host")
    dhcp = await namespace(stack, f"bn-{tag}-dhcp")
    dhcp_port = str(uuid.uuid4())
    subnet = DhcpSubnet(
        id=str(uuid.uuid4()),
        cidr=f"{PREFIX}.0/24",
        gateway_ip=f"{PREFIX}.1",
        host_routes=(("169.254.169.254/32", DHCP_CIDR.split("/")[0]),),
    )
    nic = linux_net.namespace_device(dhcp_port)
    lab = Lab(
        tag, stack, scratch, host, dhcp, network_id, dhcp_port, subnet,
        Dnsmasq(DhcpNetwork(network_id, MTU, (subnet,)), scratch / "dhcp", dhcp, nic),
        IptablesFirewall(host, scope=f"bn{tag}"),
    )  # fmt: skip
    await asyncio.to_thread(lab.udhcpc_script.write_text, UDHCPC_SCRIPT)
    await asyncio.to_thread(lab.udhcpc_script.chmod, 0o755)
    await asyncio.to_thread(linux_net.ensure_bridge, lab.bridge, MTU, host)
    await lab.plug_dhcp_port()
    stack.push_async_callback(lab.dnsmasq.stop)
    await lab.dnsmasq.start()
    return lab


# --- 1. port → DHCP-ready -------------------------------------------------------------------
