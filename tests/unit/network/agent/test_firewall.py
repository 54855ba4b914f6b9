"""The security-group firewall, proved with real packets between network namespaces.

Each test builds its own lab: a "host" namespace holding a bridge and the firewall,
and two "guest" namespaces A and B, each joined to the bridge by a veth pair whose
host end plays the tap (physdev matches any bridge port). Guests know each other's
IPv4 MAC statically, so an IPv4 probe never depends on ARP unless it is about ARP.
The scope tests put two firewalls on one host and four guests on its bridge.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest

from cumulo.network.agent.firewall import FirewallRule, IptablesFirewall, PortFilter

PROBE = r"""
import socket, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
if mode == "tcp-serve":
    server = socket.socket(family)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        conn.sendall(b"hello")
        conn.close()
elif mode == "tcp-connect":
    client = socket.create_connection((host, port), timeout=1)
    sys.exit(0 if client.recv(5) == b"hello" else 1)
elif mode == "udp-recv":
    receiver = socket.socket(family, socket.SOCK_DGRAM)
    receiver.bind((host, port))
    receiver.settimeout(1)
    print("ready", flush=True)
    data, source = receiver.recvfrom(100)
    print(source[0], source[1], data.decode(), flush=True)
elif mode == "udp-send":
    sender = socket.socket(family, socket.SOCK_DGRAM)
    sender.bind((host, port))
    for _ in range(2):
        sender.sendto(b"probe", (sys.argv[4], int(sys.argv[5])))
"""

EGRESS_ALL = (FirewallRule("egress"), FirewallRule("egress", "IPv6"))
ICMP_IN = FirewallRule("ingress", protocol="icmp")


async def run(*argv: str, check: bool = True) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    if check and process.returncode != 0:
        raise AssertionError(f"{argv} failed: {out.decode()}")
    return process.returncode, out.decode()


async def in_ns(ns: str, *argv: str, check: bool = True) -> tuple[int, str]:
    return await run("ip", "netns", "exec", ns, *argv, check=check)


def probe_argv(ns: str, *args: str | int) -> list[str]:
    return ["ip", "netns", "exec", ns, sys.executable, "-c", PROBE, *map(str, args)]


@asynccontextmanager
async def background(
    argv: Sequence[str], ready: str = "ready"
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A process whose first line of output says ``ready``; killed on the way out."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 10)
        assert ready in first.decode(), first
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@dataclasses.dataclass(frozen=True)
class Guest:
    ns: str
    port_id: str
    device: str
    mac: str
    ip: str
    ip6: str

    def port(self, *rules: FirewallRule, **changes: object) -> PortFilter:
        port = PortFilter(self.port_id, self.device, self.mac, (self.ip, self.ip6), rules=rules)
        return dataclasses.replace(port, **changes)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Lab:
    host: str
    a: Guest
    b: Guest
    firewall: IptablesFirewall

    async def apply(self, *ports: PortFilter) -> None:
        await self.firewall.apply(ports)

    async def saved(self, *tools: str) -> str:
        """The tables the firewall can touch, as the save tools print them (no timestamps)."""
        tools = tools or ("iptables-save", "ip6tables-save", "ebtables-save")
        outputs = [(await in_ns(self.host, tool))[1] for tool in tools]
        return "".join(line for out in outputs for line in out.splitlines(True) if line[0] != "#")


async def ping(ns: str, destination: str, source: str | None = None) -> bool:
    argv = ["busybox", "ping", "-c", "2", "-i", "0.2", "-W", "1"]
    argv += ["-6"] if ":" in destination else []
    argv += ["-I", source] if source else []
    return (await in_ns(ns, *argv, destination, check=False))[0] == 0


async def tcp_connects(ns: str, host: str, port: int) -> bool:
    return (await run(*probe_argv(ns, "tcp-connect", host, port), check=False))[0] == 0


async def udp_arrives(sender: Guest, source: str, sport: int, receiver: Guest, dport: int) -> bool:
    """Whether a datagram sent from ``source``:``sport`` reaches the receiver's port."""
    any_host = "::" if ":" in source else "0.0.0.0"
    destination = receiver.ip6 if ":" in source else receiver.ip
    async with background(probe_argv(receiver.ns, "udp-recv", any_host, dport)) as listener:
        await run(*probe_argv(sender.ns, "udp-send", source, sport, destination, dport))
        assert listener.stdout is not None
        line = await asyncio.wait_for(listener.stdout.readline(), 5)
    return line.decode().split()[:1] == [source]


async def make_guest(host: str, name: str, number: int, suffix: str) -> Guest:
    port_id = f"{name}{number}{secrets.token_hex(15)}"
    guest = Guest(
        ns=f"cfw{name}-{suffix}",
        port_id=port_id,
        device=f"tap{port_id[:11]}",
        mac=f"52:54:00:{secrets.token_hex(1)}:{secrets.token_hex(1)}:{number:02x}",
        ip=f"10.0.0.{number}",
        ip6=f"fd00::{number}",
    )
    await run("ip", "netns", "add", guest.ns)
    await in_ns(guest.ns, "sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0")
    veth = ["type", "veth", "peer", "name", "eth0", "netns", guest.ns]
    await run("ip", "-n", host, "link", "add", guest.device, *veth)
    await run("ip", "-n", host, "link", "set", guest.device, "master", "br0", "up")
    for argv in (
        ["link", "set", "lo", "up"],
        ["link", "set", "eth0", "address", guest.mac, "up"],
        ["addr", "add", f"{guest.ip}/24", "dev", "eth0"],
        ["addr", "add", f"{guest.ip6}/64", "dev", "eth0", "nodad"],
    ):
        await run("ip", "-n", guest.ns, *argv)
    return guest


async def know_each_other(one: Guest, other: Guest) -> None:
    for guest, peer in ((one, other), (other, one)):
        neigh = [peer.ip, "lladdr", peer.mac, "dev", "eth0", "nud", "permanent"]
        await run("ip", "-n", guest.ns, "neigh", "replace", *neigh)


@asynccontextmanager
async def bridged_guests(*guests: tuple[str, int]) -> AsyncIterator[tuple[str, list[Guest]]]:
    """A host namespace with a bridge, and a guest on it per (name, number); all deleted after."""
    suffix = secrets.token_hex(4)
    host = f"cfwh-{suffix}"
    made = [host]
    try:
        await run("ip", "netns", "add", host)
        await run("ip", "-n", host, "link", "add", "br0", "type", "bridge")
        await run("ip", "-n", host, "link", "set", "br0", "up")
        made_guests = []
        for name, number in guests:
            made.append(f"cfw{name}-{suffix}")
            made_guests.append(await make_guest(host, name, number, suffix))
        yield host, made_guests
    finally:
        for ns in made:
            await run("ip", "netns", "del", ns, check=False)


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    async with bridged_guests(("a", 10), ("b", 20)) as (host, guests):
        await know_each_other(*guests)
        await run("ip", "-n", guests[1].ns, "addr", "add", "10.0.0.21/24", "dev", "eth0")
        yield Lab(host, guests[0], guests[1], IptablesFirewall(host))


@dataclasses.dataclass(frozen=True)
class Neighbours:
    """One bridge for two scopes: a is scope A's guest, b scope B's, c and d nobody's."""

    host: str
    a: Guest
    b: Guest
    c: Guest
    d: Guest


@pytest.fixture
async def neighbours() -> AsyncIterator[Neighbours]:
    async with bridged_guests(("a", 10), ("b", 20), ("c", 30), ("d", 40)) as (host, guests):
        yield Neighbours(host, *guests)


async def scope_lines(host: str, scope: str) -> list[str]:
    """The lines of the three tables' saves that name a chain of ``scope``, in order."""
    own = re.compile(rf"\bcumulo{scope}-")
    lines = []
    for tool in ("iptables-save", "ip6tables-save", "ebtables-save"):
        lines += [line for line in (await in_ns(host, tool))[1].splitlines() if own.search(line)]
    return lines


async def test_icmp_to_a_guest_is_dropped_until_an_ingress_rule_allows_it(lab: Lab) -> None:
    assert await ping(lab.b.ns, lab.a.ip)
    # apply must switch bridged traffic into iptables in the namespace it works in
    await in_ns(lab.host, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0")
    await lab.apply(lab.a.port(), lab.b.port(port_security_enabled=False))
    assert not await ping(lab.b.ns, lab.a.ip)
    await lab.apply(lab.a.port(ICMP_IN), lab.b.port(port_security_enabled=False))
    assert await ping(lab.b.ns, lab.a.ip)


async def test_a_tcp_port_opens_with_its_rule_and_closes_when_the_rule_goes(lab: Lab) -> None:
    open_b = lab.b.port(port_security_enabled=False)
    tcp_4321 = FirewallRule("ingress", protocol="tcp", port_range_min=4321, port_range_max=4321)
    async with (
        background(probe_argv(lab.a.ns, "tcp-serve", "0.0.0.0", 4321)),
        background(probe_argv(lab.a.ns, "tcp-serve", "0.0.0.0", 4322)),
    ):
        await lab.apply(lab.a.port(), open_b)
        assert not await tcp_connects(lab.b.ns, lab.a.ip, 4321)
        await lab.apply(lab.a.port(tcp_4321), open_b)
        assert await tcp_connects(lab.b.ns, lab.a.ip, 4321)
        assert not await tcp_connects(lab.b.ns, lab.a.ip, 4322)
        await lab.apply(lab.a.port(), open_b)
        assert not await tcp_connects(lab.b.ns, lab.a.ip, 4321)


async def test_replies_to_the_guests_own_connections_come_back(lab: Lab) -> None:
    await lab.apply(lab.a.port(*EGRESS_ALL), lab.b.port(port_security_enabled=False))
    async with (
        background(probe_argv(lab.b.ns, "tcp-serve", "0.0.0.0", 5000)),
        background(probe_argv(lab.a.ns, "tcp-serve", "0.0.0.0", 5000)),
    ):
        assert await tcp_connects(lab.a.ns, lab.b.ip, 5000)
        assert not await tcp_connects(lab.b.ns, lab.a.ip, 5000)


async def test_remote_ip_prefix_restricts_the_source(lab: Lab) -> None:
    rule = FirewallRule("ingress", protocol="icmp", remote_ip_prefix="10.0.0.20/32")
    await lab.apply(lab.a.port(rule), lab.b.port(port_security_enabled=False))
    assert await ping(lab.b.ns, lab.a.ip, source="10.0.0.20")
    assert not await ping(lab.b.ns, lab.a.ip, source="10.0.0.21")


async def test_remote_ips_of_a_group_restrict_the_source(lab: Lab) -> None:
    rule = FirewallRule("ingress", protocol="icmp", remote_ips=("10.0.0.21", "10.0.0.30"))
    await lab.apply(lab.a.port(rule), lab.b.port(port_security_enabled=False))
    assert await ping(lab.b.ns, lab.a.ip, source="10.0.0.21")
    assert not await ping(lab.b.ns, lab.a.ip, source="10.0.0.20")
    empty_group = FirewallRule("ingress", protocol="icmp", remote_ips=())
    await lab.apply(lab.a.port(empty_group), lab.b.port(port_security_enabled=False))
    assert not await ping(lab.b.ns, lab.a.ip, source="10.0.0.21")


async def test_a_guest_sends_only_from_its_own_or_allowed_addresses(lab: Lab) -> None:
    await run("ip", "-n", lab.a.ns, "addr", "add", "10.0.0.99/24", "dev", "eth0")
    open_b = lab.b.port(port_security_enabled=False)
    await lab.apply(lab.a.port(*EGRESS_ALL), open_b)
    assert await udp_arrives(lab.a, lab.a.ip, 7000, lab.b, 7001)
    assert not await udp_arrives(lab.a, "10.0.0.99", 7000, lab.b, 7001)
    pair = (("10.0.0.96/30", lab.a.mac),)
    await lab.apply(lab.a.port(*EGRESS_ALL, allowed_address_pairs=pair), open_b)
    assert await udp_arrives(lab.a, "10.0.0.99", 7000, lab.b, 7001)


async def test_a_guest_with_another_mac_cannot_send(lab: Lab) -> None:
    await lab.apply(lab.a.port(*EGRESS_ALL), lab.b.port(port_security_enabled=False))
    await run("ip", "-n", lab.a.ns, "link", "set", "eth0", "address", "52:54:00:aa:bb:cc")
    assert not await udp_arrives(lab.a, lab.a.ip, 7000, lab.b, 7001)
    pair = ((lab.a.ip, "52:54:00:aa:bb:cc"),)
    await lab.apply(lab.a.port(*EGRESS_ALL, allowed_address_pairs=pair))
    assert await udp_arrives(lab.a, lab.a.ip, 7000, lab.b, 7001)


async def test_arp_for_an_address_the_guest_does_not_own_is_dropped(lab: Lab) -> None:
    await run("ip", "-n", lab.a.ns, "addr", "add", "10.0.0.99/24", "dev", "eth0")
    arping = ["busybox", "arping", "-f", "-c", "1", "-w", "1", "-I", "eth0"]
    await lab.apply(lab.a.port(*EGRESS_ALL), lab.b.port(port_security_enabled=False))
    assert (await in_ns(lab.a.ns, *arping, "-s", lab.a.ip, lab.b.ip, check=False))[0] == 0
    assert (await in_ns(lab.a.ns, *arping, "-s", "10.0.0.99", lab.b.ip, check=False))[0] != 0
    pair = (("10.0.0.99", lab.a.mac),)
    await lab.apply(lab.a.port(*EGRESS_ALL, allowed_address_pairs=pair))
    assert (await in_ns(lab.a.ns, *arping, "-s", "10.0.0.99", lab.b.ip, check=False))[0] == 0


async def test_a_guest_cannot_answer_as_a_dhcp_server(lab: Lab) -> None:
    await lab.apply(lab.a.port(*EGRESS_ALL), lab.b.port(port_security_enabled=False))
    assert await udp_arrives(lab.a, lab.a.ip, 1067, lab.b, 68)
    assert not await udp_arrives(lab.a, lab.a.ip, 67, lab.b, 68)


async def test_a_guest_without_rules_still_gets_its_dhcp_lease(lab: Lab) -> None:
    await run("ip", "-n", lab.a.ns, "addr", "flush", "dev", "eth0")
    await lab.apply(lab.a.port(), lab.b.port(port_security_enabled=False))
    dnsmasq = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0"]
    dnsmasq += ["--no-hosts", "--no-resolv", "--leasefile-ro", "--pid-file=", "--log-facility=-"]
    dnsmasq += ["--interface=eth0", "--bind-interfaces", "--log-dhcp"]
    dnsmasq += ["--dhcp-range=10.0.0.0,static,255.255.255.0", f"--dhcp-host={lab.a.mac},{lab.a.ip}"]
    udhcpc = ["busybox", "udhcpc", "-f", "-q", "-n", "-t", "3", "-T", "1", "-i", "eth0"]
    async with background(["ip", "netns", "exec", lab.b.ns, *dnsmasq], ready="started"):
        code, out = await in_ns(lab.a.ns, *udhcpc, "-s", "/bin/true", check=False)
    assert code == 0 and f"lease of {lab.a.ip} obtained" in out, out


async def test_both_ends_filter_traffic_between_two_guests_of_the_host(lab: Lab) -> None:
    await lab.apply(lab.a.port(ICMP_IN), lab.b.port())
    assert not await ping(lab.b.ns, lab.a.ip)
    await lab.apply(lab.a.port(ICMP_IN), lab.b.port(*EGRESS_ALL))
    assert await ping(lab.b.ns, lab.a.ip)


async def test_port_security_disabled_lets_everything_through(lab: Lab) -> None:
    await run("ip", "-n", lab.a.ns, "addr", "add", "10.0.0.99/24", "dev", "eth0")
    await lab.apply(lab.a.port(port_security_enabled=False), lab.b.port(*EGRESS_ALL))
    assert await ping(lab.b.ns, lab.a.ip)
    assert await udp_arrives(lab.a, "10.0.0.99", 67, lab.b, 68)


async def test_a_filtered_guest_keeps_its_egress_rules_towards_an_unfiltered_one(lab: Lab) -> None:
    open_b = lab.b.port(port_security_enabled=False)
    await lab.apply(lab.a.port(), open_b)
    assert not await udp_arrives(lab.a, lab.a.ip, 7000, lab.b, 7001)
    udp_7001 = FirewallRule("egress", protocol="udp", port_range_min=7001, port_range_max=7001)
    await lab.apply(lab.a.port(udp_7001), open_b)
    assert await udp_arrives(lab.a, lab.a.ip, 7000, lab.b, 7001)
    assert not await udp_arrives(lab.a, lab.a.ip, 7000, lab.b, 7002)


async def test_ipv6_needs_its_own_rules_and_neighbour_discovery_passes(lab: Lab) -> None:
    open_b = lab.b.port(port_security_enabled=False)
    tcp_v6 = FirewallRule("ingress", "IPv6", "tcp", 4321, 4321)
    async with background(probe_argv(lab.a.ns, "tcp-serve", "::", 4321)):
        await lab.apply(lab.a.port(FirewallRule("ingress", protocol="tcp")), open_b)
        assert await tcp_connects(lab.b.ns, lab.a.ip, 4321)
        assert not await tcp_connects(lab.b.ns, lab.a.ip6, 4321)
        await lab.apply(lab.a.port(tcp_v6), open_b)
        assert await tcp_connects(lab.b.ns, lab.a.ip6, 4321)
        assert not await ping(lab.b.ns, lab.a.ip6)


async def test_ipv6_source_spoofing_is_dropped(lab: Lab) -> None:
    await run("ip", "-n", lab.a.ns, "addr", "add", "fd00::99/64", "dev", "eth0", "nodad")
    neigh = [lab.b.ip6, "lladdr", lab.b.mac, "dev", "eth0", "nud", "permanent"]
    await run("ip", "-n", lab.a.ns, "neigh", "replace", *neigh)
    await lab.apply(lab.a.port(*EGRESS_ALL), lab.b.port(port_security_enabled=False))
    assert await udp_arrives(lab.a, lab.a.ip6, 7000, lab.b, 7001)
    assert not await udp_arrives(lab.a, "fd00::99", 7000, lab.b, 7001)


async def test_apply_is_idempotent_and_leaves_foreign_rules_alone(lab: Lab) -> None:
    await in_ns(lab.host, "iptables", "-N", "operator-chain")
    await in_ns(lab.host, "iptables", "-A", "FORWARD", "-p", "esp", "-j", "operator-chain")
    ports = (lab.a.port(ICMP_IN, *EGRESS_ALL), lab.b.port(port_security_enabled=False))
    await lab.apply(*ports)
    first = await lab.saved()
    await lab.apply(*ports)
    assert await lab.saved() == first
    assert (await lab.saved("iptables-save")).count("-A FORWARD -j cumulo-FORWARD") == 1
    assert "-A FORWARD -p esp -j operator-chain" in first
    await lab.firewall.remove_all()
    assert "-A FORWARD -p esp -j operator-chain" in await lab.saved()


async def test_removed_ports_lose_their_chains_and_remove_all_leaves_nothing(lab: Lab) -> None:
    await lab.apply(lab.a.port(), lab.b.port())
    assert not await ping(lab.b.ns, lab.a.ip)
    await lab.apply(lab.b.port(*EGRESS_ALL))
    assert lab.a.port_id[:10] not in await lab.saved()
    assert await ping(lab.b.ns, lab.a.ip)
    await lab.firewall.remove_all()
    assert "cumulo" not in await lab.saved()
    await lab.firewall.remove_all()


async def test_a_thousand_ports_apply_in_seconds(lab: Lab) -> None:
    many = [
        PortFilter(
            f"{n:08d}-fake",
            f"tapx{n}",
            f"52:54:01:00:{n >> 8:02x}:{n & 255:02x}",
            (f"10.1.{n >> 8}.{n & 255}",),
            rules=(*EGRESS_ALL, ICMP_IN, FirewallRule("ingress", "IPv4", "tcp", 22, 22)),
        )
        for n in range(999)
    ]
    started = time.monotonic()
    await lab.firewall.apply([*many, lab.a.port(), lab.b.port(port_security_enabled=False)])
    elapsed = time.monotonic() - started
    assert not await ping(lab.b.ns, lab.a.ip)
    assert (await lab.saved("iptables-save")).count(":cumulo-i") == 1000
    assert elapsed < 10, elapsed
    await lab.apply(lab.a.port(ICMP_IN), lab.b.port(port_security_enabled=False))
    assert (await lab.saved("iptables-save")).count(":cumulo-i") == 1
    assert await ping(lab.b.ns, lab.a.ip)


@pytest.mark.parametrize(("scope_a", "scope_b"), [("", "n1"), ("ab", "abc")])
async def test_two_scopes_change_and_remove_only_their_own_chains(
    neighbours: Neighbours, scope_a: str, scope_b: str
) -> None:
    nb = neighbours
    firewall_a = IptablesFirewall(nb.host, scope_a)
    firewall_b = IptablesFirewall(nb.host, scope_b)
    await asyncio.gather(firewall_a.apply([nb.a.port(ICMP_IN)]), firewall_b.apply([nb.b.port()]))
    lines_a = await scope_lines(nb.host, scope_a)
    assert await ping(nb.c.ns, nb.a.ip)
    assert not await ping(nb.c.ns, nb.b.ip)

    b_with_icmp = [nb.b.port(ICMP_IN), nb.d.port(port_security_enabled=False)]
    await firewall_b.apply(b_with_icmp)
    assert await scope_lines(nb.host, scope_a) == lines_a
    assert await ping(nb.c.ns, nb.b.ip)
    assert await ping(nb.c.ns, nb.a.ip)
    assert not await udp_arrives(nb.c, nb.c.ip, 7000, nb.a, 7001)

    await firewall_b.remove_all()
    assert await scope_lines(nb.host, scope_b) == []
    assert await scope_lines(nb.host, scope_a) == lines_a
    assert await ping(nb.c.ns, nb.a.ip)
    assert not await udp_arrives(nb.c, nb.c.ip, 7000, nb.a, 7001)

    await firewall_b.apply(b_with_icmp)
    lines_b = await scope_lines(nb.host, scope_b)
    await firewall_a.apply([nb.a.port()])
    assert not await ping(nb.c.ns, nb.a.ip)
    await firewall_a.remove_all()
    assert await scope_lines(nb.host, scope_a) == []
    assert await scope_lines(nb.host, scope_b) == lines_b
    assert await ping(nb.c.ns, nb.b.ip)
    assert not await udp_arrives(nb.c, nb.c.ip, 7000, nb.b, 7001)


async def test_a_tap_no_scope_filters_returns_to_forward_through_every_scope(
    neighbours: Neighbours,
) -> None:
    nb = neighbours
    await IptablesFirewall(nb.host).apply([])
    await IptablesFirewall(nb.host, "fa").apply([nb.a.port(ICMP_IN)])
    await IptablesFirewall(nb.host, "fb").apply([nb.b.port()])
    assert await ping(nb.c.ns, nb.d.ip)
    from_c = ["-m", "physdev", "--physdev-in", nb.c.device, "--physdev-is-bridged"]
    await in_ns(nb.host, "iptables", "-A", "FORWARD", *from_c, "-p", "icmp", "-j", "DROP")
    assert not await ping(nb.c.ns, nb.d.ip)  # the operator's rule after the scopes saw it
    assert await ping(nb.c.ns, nb.a.ip)  # scope fa decides for its tap, and accepts
    assert not await ping(nb.c.ns, nb.b.ip)  # scope fb decides for its tap, and drops


async def test_the_longest_scope_names_fit_the_tools(neighbours: Neighbours) -> None:
    nb = neighbours
    scope = secrets.token_hex(3)
    await IptablesFirewall(nb.host, scope).apply([nb.a.port(ICMP_IN)])
    assert await ping(nb.c.ns, nb.a.ip)
    assert not await udp_arrives(nb.c, nb.c.ip, 7000, nb.a, 7001)
    declared = {line.split()[0] for line in await scope_lines(nb.host, scope) if line[0] == ":"}
    longest = ("sg-fallback", f"i{nb.a.port_id[:10]}", f"a{nb.a.port_id[:10]}")
    assert {f":cumulo{scope}-{suffix}" for suffix in longest} <= declared


@pytest.mark.parametrize("scope", ["A", "abcdefg", "a-b", "a_b", " ", "ab\n", "\u00e9"])
def test_a_scope_other_than_one_to_six_lowercase_letters_or_digits_is_refused(scope: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        IptablesFirewall(scope=scope)
