"""dnsmasq serving static leases to a guest namespace, the way Neutron's DHCP agent does.

Each test builds its own namespaces: "host" holds a bridge; "dhcp" holds the
DHCP port (a veth on the bridge carrying ``<prefix>.2/24``) where dnsmasq runs;
"guest" holds ``eth0`` on the same bridge, with the MAC of the port under test.
busybox udhcpc in the guest is the DHCP client; its script dumps what it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cumulo.network.agent.dhcp import (
    DhcpError,
    DhcpHost,
    DhcpNetwork,
    DhcpSubnet,
    Dnsmasq,
    Reload,
    hosts_file,
    opts_file,
)

PORT_MAC = "fa:16:3e:00:00:05"
OTHER_MAC = "fa:16:3e:00:00:06"
UNKNOWN_MAC = "fa:16:3e:00:00:99"
DHCP_DEV = "ns-dhcp"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class Lab:
    host: str
    dhcp: str
    guest: str
    prefix: str  # the first three octets of the /24

    def addr(self, last: int) -> str:
        return f"{self.prefix}.{last}"

    def set_guest_mac(self, mac: str) -> None:
        _ip("-n", self.guest, "link", "set", "eth0", "address", mac)


@pytest.fixture
def lab() -> Iterator[Lab]:
    tag = secrets.token_hex(4)
    lab = Lab(
        host=f"cdhcp-h-{tag}",
        dhcp=f"cdhcp-d-{tag}",
        guest=f"cdhcp-g-{tag}",
        prefix=f"10.{random.randint(0, 255)}.{random.randint(0, 255)}",
    )
    made: list[str] = []
    try:
        for ns in (lab.host, lab.dhcp, lab.guest):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("-n", lab.host, "link", "add", "br0", "type", "bridge")
        _ip("-n", lab.host, "link", "set", "br0", "up")
        for tap, peer, ns in (("tap-dhcp", DHCP_DEV, lab.dhcp), ("tap-guest", "eth0", lab.guest)):
            _ip("-n", lab.host, "link", "add", tap, "type", "veth", "peer", "name", peer)
            _ip("-n", lab.host, "link", "set", peer, "netns", ns)
            _ip("-n", lab.host, "link", "set", tap, "master", "br0", "up")
            _ip("-n", ns, "link", "set", peer, "up")
        _ip("-n", lab.dhcp, "addr", "add", f"{lab.addr(2)}/24", "dev", DHCP_DEV)
        lab.set_guest_mac(PORT_MAC)
        yield lab
    finally:
        for ns in reversed(made):
            subprocess.run(["ip", "netns", "delete", ns], check=False, capture_output=True)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A state dir dnsmasq can still read once it has dropped root (tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="cumulo-dhcp-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _pids_under(state_dir: Path) -> list[int]:
    """Processes whose command line names a pid file in this test's state dir."""
    marker = f"--pid-file={state_dir}/".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(a.startswith(marker) for a in (entry / "cmdline").read_bytes().split(b"\0")):
                pids.append(int(entry.name))
    return pids


@pytest.fixture
async def serve(lab: Lab, state_dir: Path) -> AsyncIterator[Callable[..., Dnsmasq]]:
    """Make `Dnsmasq` managers on the lab's DHCP port; stop them all afterwards."""
    made: list[Dnsmasq] = []

    def make(network: DhcpNetwork, interface: str = DHCP_DEV) -> Dnsmasq:
        made.append(Dnsmasq(network, state_dir, lab.dhcp, interface))
        return made[-1]

    try:
        yield make
    finally:
        for dnsmasq in made:
            with contextlib.suppress(Exception):
                await dnsmasq.stop()
        for pid in _pids_under(state_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _network(
    lab: Lab,
    hosts: tuple[tuple[str, int, str], ...] = ((PORT_MAC, 5, "vm-one"),),
    *,
    gateway: int | None = 1,
    dns: tuple[str, ...] = ("192.0.2.53", "198.51.100.53"),
    routes: tuple[tuple[str, str], ...] = (("172.31.0.0/16", "{}.9"),),
    domain: str = "openstacklocal",
) -> DhcpNetwork:
    subnet = DhcpSubnet(
        id="8d3e1c9a-0000-4000-8000-00000000000a",
        cidr=f"{lab.addr(0)}/24",
        gateway_ip=lab.addr(gateway) if gateway else None,
        dns_nameservers=dns,
        host_routes=tuple((dest, hop.format(lab.prefix)) for dest, hop in routes),
    )
    return DhcpNetwork(
        id="5f0e2b6c-0000-4000-8000-000000000001",
        mtu=1442,
        subnets=(subnet,),
        hosts=tuple(
            DhcpHost(port_id=f"port-{last}", mac=mac, ip=lab.addr(last), hostname=name)
            for mac, last, name in hosts
        ),
        domain=domain,
    )


async def _lease(lab: Lab, tmp_path: Path, tries: int = 5) -> dict[str, str] | None:
    """Run udhcpc in the guest; the variables its script saw when bound, or None."""
    token = secrets.token_hex(4)
    out, script = tmp_path / f"lease-{token}.env", tmp_path / f"script-{token}.sh"
    script.write_text(f'#!/bin/sh\n[ "$1" = bound ] || exit 0\nenv > "{out}"\n')
    script.chmod(0o755)
    proc = await asyncio.create_subprocess_exec(
        *("ip", "netns", "exec", lab.guest, "busybox", "udhcpc", "-i", "eth0"),
        *("-n", "-q", "-t", str(tries), "-T", "1", "-s", str(script)),
        *("-O", "mtu", "-O", "staticroutes", "-O", "msstaticroutes"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.wait_for(proc.wait(), tries + 10)
    if not out.exists():
        return None
    return dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_guest_gets_its_fixed_ip_and_the_subnet_options(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    dnsmasq = serve(_network(lab))
    started = time.perf_counter()
    await dnsmasq.start()
    serving = time.perf_counter()
    lease = await _lease(lab, tmp_path)
    leased = time.perf_counter()
    print(f"start {serving - started:.3f} s, start to first lease {leased - started:.3f} s")

    assert lease is not None
    assert lease["ip"] == lab.addr(5)
    assert lease["subnet"] == "255.255.255.0"
    assert lease["router"] == lab.addr(1)
    assert lease["dns"].split() == ["192.0.2.53", "198.51.100.53"]
    assert lease["hostname"] == "vm-one"
    assert lease["domain"] == "openstacklocal"
    assert lease["mtu"] == "1442"
    routes = f"172.31.0.0/16 {lab.addr(9)} 0.0.0.0/0 {lab.addr(1)}"
    assert lease["staticroutes"] == routes
    assert lease["msstaticroutes"] == routes
    assert lease["serverid"] == lab.addr(2)
    hosts = (dnsmasq.network_dir / "host").read_text()
    assert hosts == f"{PORT_MAC},vm-one.openstacklocal.,{lab.addr(5)}\n"


async def test_unknown_mac_gets_no_lease(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    dnsmasq = serve(_network(lab))
    await dnsmasq.start()
    lab.set_guest_mac(UNKNOWN_MAC)

    assert await _lease(lab, tmp_path, tries=3) is None
    refusal = f"DHCPDISCOVER({DHCP_DEV}) {UNKNOWN_MAC} no address available"
    await _until(lambda: refusal in dnsmasq.log_path.read_text())


async def test_reload_serves_a_new_host_without_restarting(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    dnsmasq = serve(_network(lab))
    await dnsmasq.start()
    pid = dnsmasq.pid
    both = _network(lab, ((PORT_MAC, 5, "vm-one"), (OTHER_MAC, 6, "vm-two")))

    assert await dnsmasq.reload(both) is Reload.SIGNALLED
    lab.set_guest_mac(OTHER_MAC)
    lease = await _lease(lab, tmp_path)

    assert lease is not None
    assert (lease["ip"], lease["hostname"]) == (lab.addr(6), "vm-two")
    assert dnsmasq.pid == pid
    assert await dnsmasq.reload(both) is Reload.UNCHANGED


async def test_an_address_given_to_a_new_port_is_leased_to_it_at_once(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    """dnsmasq keeps leases across a SIGHUP and would refuse the address to the new MAC
    until the old lease ran out: a host gone restarts it."""
    dnsmasq = serve(_network(lab))
    await dnsmasq.start()
    first = await _lease(lab, tmp_path)
    assert first is not None and first["ip"] == lab.addr(5)
    pid = dnsmasq.pid

    assert await dnsmasq.reload(_network(lab, ((OTHER_MAC, 5, "vm-new"),))) is Reload.RESTARTED
    lab.set_guest_mac(OTHER_MAC)
    lease = await _lease(lab, tmp_path)

    assert lease is not None, dnsmasq.log_path.read_text()[-1500:]
    assert (lease["ip"], lease["hostname"]) == (lab.addr(5), "vm-new")
    assert dnsmasq.pid != pid


async def test_reload_without_gateway_or_dns_sends_neither(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    dnsmasq = serve(_network(lab))
    await dnsmasq.start()
    pid = dnsmasq.pid

    bare = _network(lab, gateway=None, dns=(), routes=())
    assert await dnsmasq.reload(bare) is Reload.SIGNALLED
    lease = await _lease(lab, tmp_path)

    assert lease is not None
    assert lease["ip"] == lab.addr(5)
    assert lease["mtu"] == "1442"
    assert not {"router", "dns", "staticroutes", "msstaticroutes"} & lease.keys()
    assert dnsmasq.pid == pid


async def test_reload_with_another_domain_restarts_dnsmasq(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    dnsmasq = serve(_network(lab))
    await dnsmasq.start()
    old = dnsmasq.pid
    assert old is not None

    assert await dnsmasq.reload(_network(lab, domain="example.org")) is Reload.RESTARTED
    lease = await _lease(lab, tmp_path)

    assert lease is not None
    assert (lease["hostname"], lease["domain"]) == ("vm-one", "example.org")
    assert dnsmasq.pid not in (None, old)
    assert _gone(old)


async def test_ensure_running_restarts_a_killed_dnsmasq(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    dnsmasq = serve(_network(lab))
    await dnsmasq.start()
    old = dnsmasq.pid
    assert old is not None
    assert await dnsmasq.ensure_running() is False

    os.kill(old, signal.SIGKILL)
    await _until(lambda: not dnsmasq.running)
    assert await dnsmasq.ensure_running() is True
    lease = await _lease(lab, tmp_path)

    assert lease is not None and lease["ip"] == lab.addr(5)
    assert dnsmasq.pid not in (None, old)
    assert await dnsmasq.ensure_running() is False


async def test_watch_restarts_a_killed_dnsmasq_until_cancelled(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    dnsmasq = serve(_network(lab))
    await dnsmasq.start()
    old = dnsmasq.pid
    assert old is not None
    watcher = asyncio.create_task(dnsmasq.watch(0.05))
    try:
        os.kill(old, signal.SIGKILL)
        await _until(lambda: dnsmasq.pid not in (None, old))
        lease = await _lease(lab, tmp_path)
        assert lease is not None and lease["ip"] == lab.addr(5)
    finally:
        watcher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watcher


async def test_stop_leaves_no_process_and_no_files(
    lab: Lab, serve: Callable[..., Dnsmasq], state_dir: Path
) -> None:
    dnsmasq = serve(_network(lab))
    await dnsmasq.start()
    pid = dnsmasq.pid
    assert pid is not None and dnsmasq.network_dir.is_dir()

    await dnsmasq.stop()

    assert _gone(pid)
    assert (dnsmasq.running, dnsmasq.pid) == (False, None)
    assert os.listdir(state_dir) == []
    assert await dnsmasq.ensure_running() is False


async def test_start_replaces_a_dnsmasq_left_by_an_earlier_agent(
    lab: Lab, serve: Callable[..., Dnsmasq], tmp_path: Path
) -> None:
    earlier = serve(_network(lab))
    await earlier.start()
    left = earlier.pid
    assert left is not None

    now = serve(_network(lab))
    await now.start()
    lease = await _lease(lab, tmp_path)

    assert _gone(left)
    assert now.pid not in (None, left)
    assert lease is not None and lease["ip"] == lab.addr(5)


async def test_start_reports_why_dnsmasq_failed(lab: Lab, serve: Callable[..., Dnsmasq]) -> None:
    dnsmasq = serve(_network(lab), interface="no-such-dev")

    with pytest.raises(DhcpError, match="unknown interface no-such-dev"):
        await dnsmasq.start()
    assert not dnsmasq.running


async def test_start_refuses_a_state_dir_dnsmasq_cannot_reread(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    network = DhcpNetwork(
        id="net-1",
        mtu=1500,
        subnets=(DhcpSubnet(id="sub-1", cidr="10.0.0.0/24", gateway_ip="10.0.0.1"),),
    )
    dnsmasq = Dnsmasq(network, locked / "dhcp", "no-such-netns", "eth0")

    with pytest.raises(DhcpError, match="not searchable"):
        await dnsmasq.start()
    assert not dnsmasq.running


def test_files_follow_neutron_for_routes_and_skip_unserved_addresses() -> None:
    served = DhcpSubnet(
        id="a",
        cidr="10.0.0.0/24",
        gateway_ip=None,
        host_routes=(("0.0.0.0/0", "10.0.0.254"), ("192.168.0.0/16", "10.0.0.9")),
    )
    no_dhcp = DhcpSubnet(id="b", cidr="10.0.1.0/24", gateway_ip="10.0.1.1", enable_dhcp=False)
    v6 = DhcpSubnet(id="c", cidr="fd00::/64", gateway_ip="fd00::1", ip_version=6)
    network = DhcpNetwork(
        id="net",
        mtu=1450,
        subnets=(served, no_dhcp, v6),
        hosts=(
            DhcpHost("p1", "FA:16:3E:00:00:01", "10.0.0.5", "web"),
            DhcpHost("p1", "fa:16:3e:00:00:01", "10.0.1.5", "web"),
            DhcpHost("p1", "fa:16:3e:00:00:01", "fd00::5", "web"),
        ),
        domain="openstacklocal.",
    )

    assert hosts_file(network) == "fa:16:3e:00:00:01,web.openstacklocal.,10.0.0.5\n"
    routes = "192.168.0.0/16,10.0.0.9,10.0.1.0/24,0.0.0.0,0.0.0.0/0,10.0.0.254"
    assert opts_file(network).splitlines() == [
        f"tag:subnet-a,option:classless-static-route,{routes}",
        f"tag:subnet-a,249,{routes}",
        "tag:subnet-a,option:router,10.0.0.254",
        "tag:subnet-a,option:mtu,1450",
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: DhcpHost("p", "fa:16:3e:00:00:01", "10.0.0.5", "web,set:evil"),
        lambda: DhcpHost("p", "fa:16:3e:00:00:01", "10.0.0.5", "web\nevil"),
        lambda: DhcpHost("p", "fa:16:3e:00:00:01,x", "10.0.0.5", "web"),
        lambda: DhcpSubnet("s", "10.0.0.0/24", None, dns_nameservers=("1.1.1.1,2.2.2.2",)),
        lambda: DhcpSubnet("s,x", "10.0.0.0/24", None),
        lambda: DhcpNetwork(id="../etc", mtu=1500, subnets=()),
    ],
)
def test_values_that_could_inject_dnsmasq_config_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()
