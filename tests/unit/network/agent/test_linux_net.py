"""Host plumbing, observed from outside with ``ip``/``bridge`` and real packets.

Every test builds inside namespaces of its own (a random "host" namespace stands for the
compute host), so nothing touches this machine's namespace and tests run in parallel.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo.network.agent import linux_net
from cumulo.network.agent.linux_net import NetworkPlumbingError
from cumulo.network.model import bridge_name, devname

GUEST_MAC = "fa:16:3e:12:34:56"
UNDERLAY = "underlay"

NameMaker = Callable[[str], str]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def _ip(netns: str, *args: str) -> Any:
    result = _run("ip", "-j", "-n", netns, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout or "[]")


def _link(netns: str, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = _ip(netns, "-d", "addr", "show", "dev", name)
    return found[0]


def _link_names(netns: str) -> set[str]:
    return {link["ifname"] for link in _ip(netns, "link", "show")}


def _addresses(link: dict[str, Any]) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]}


def _flood_list(netns: str, vxlan: str) -> set[str]:
    result = _run("bridge", "-j", "-n", netns, "fdb", "show", "dev", vxlan)
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    return {e["dst"] for e in entries if e["mac"] == "00:00:00:00:00:00" and "dst" in e}


def _pings(namespace: str, address: str, attempts: int) -> bool:
    for _ in range(attempts):
        ping = ("busybox", "ping", "-c1", "-W1", address)
        if _run("ip", "netns", "exec", namespace, *ping).returncode == 0:
            return True
    return False


def _port_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def namespaces() -> Iterator[NameMaker]:
    """Random namespace names; whatever exists under them is deleted after the test."""
    names: list[str] = []

    def make(role: str) -> str:
        names.append(f"ln{role}-{secrets.token_hex(4)}")
        return names[-1]

    try:
        yield make
    finally:
        for name in names:
            _run("ip", "netns", "delete", name)


def _new_host(namespaces: NameMaker) -> str:
    host = namespaces("host")
    assert _run("ip", "netns", "add", host).returncode == 0
    return host


@pytest.fixture
def host(namespaces: NameMaker) -> str:
    return _new_host(namespaces)


@pytest.fixture
def two_hosts(namespaces: NameMaker) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two hosts whose underlay is one veth pair: (namespace, underlay address) each."""
    a, b = _new_host(namespaces), _new_host(namespaces)
    peer = ("peer", "name", UNDERLAY, "netns", b)
    assert _run("ip", "-n", a, "link", "add", UNDERLAY, "type", "veth", *peer).returncode == 0
    for netns, address in ((a, "192.168.77.1/24"), (b, "192.168.77.2/24")):
        assert _run("ip", "-n", netns, "addr", "add", address, "dev", UNDERLAY).returncode == 0
        assert _run("ip", "-n", netns, "link", "set", UNDERLAY, "up").returncode == 0
    return (a, "192.168.77.1"), (b, "192.168.77.2")


def _plumb_guest_and_dhcp(host: str, namespaces: NameMaker) -> dict[str, str]:
    """A network as a compute host wires it: bridge, a guest tap, a DHCP-like port, vxlan."""
    names = {
        "bridge": bridge_name(_port_id()),
        "tap": devname(_port_id()),
        "port": _port_id(),
        "dhcp": namespaces("dhcp"),
    }
    linux_net.ensure_bridge(names["bridge"], 1400, netns=host)
    linux_net.plug_tap(names["tap"], names["bridge"], GUEST_MAC, 1400, netns=host)
    linux_net.plug_namespace_port(
        names["bridge"],
        names["port"],
        names["dhcp"],
        "fa:16:3e:00:00:02",
        ["10.0.0.2/24", "fd00::2/64"],
        1400,
        netns=host,
    )
    linux_net.ensure_vxlan(7, names["bridge"], "192.0.2.1", ["192.0.2.2"], mtu=1400, netns=host)
    linux_net.set_default_route(names["dhcp"], "10.0.0.1")
    return names


def test_bridge_tap_and_namespace_port_are_wired_as_neutron_does(
    host: str, namespaces: NameMaker
) -> None:
    names = _plumb_guest_and_dhcp(host, namespaces)
    bridge, tap = _link(host, names["bridge"]), _link(host, names["tap"])
    host_end = _link(host, devname(names["port"]))
    inner = _link(names["dhcp"], linux_net.namespace_device(names["port"]))

    assert bridge["linkinfo"]["info_kind"] == "bridge"
    assert bridge["linkinfo"]["info_data"]["stp_state"] == 0
    assert bridge["linkinfo"]["info_data"]["forward_delay"] == 0
    assert "UP" in bridge["flags"] and bridge["mtu"] == 1400
    assert bridge["addr_info"] == []

    assert tap["linkinfo"]["info_kind"] == "tun"
    assert tap["linkinfo"]["info_data"]["type"] == "tap"
    assert tap["linkinfo"]["info_data"]["persist"] is True
    assert tap["master"] == names["bridge"] and "UP" in tap["flags"] and tap["mtu"] == 1400
    assert tap["address"] == "fe:16:3e:12:34:56"

    assert host_end["linkinfo"]["info_kind"] == "veth"
    assert host_end["master"] == names["bridge"] and host_end["mtu"] == 1400
    assert inner["address"] == "fa:16:3e:00:00:02" and inner["mtu"] == 1400
    assert "UP" in inner["flags"] and "UP" in _link(names["dhcp"], "lo")["flags"]
    assert {"10.0.0.2/24", "fd00::2/64"} <= _addresses(inner)
    default = _ip(names["dhcp"], "route", "show", "default")
    assert [route["gateway"] for route in default] == ["10.0.0.1"]

    vxlan = _link(host, "vxlan-7")
    assert vxlan["master"] == names["bridge"] and vxlan["mtu"] == 1400
    assert vxlan["linkinfo"]["info_data"]["port"] == 4789
    assert vxlan["linkinfo"]["info_data"]["learning"] is True


def test_inventory_finds_taps_and_bridges_only(host: str, namespaces: NameMaker) -> None:
    names = _plumb_guest_and_dhcp(host, namespaces)
    assert _run("ip", "-n", host, "link", "add", "br-other", "type", "bridge").returncode == 0

    # The namespace port's host end is also named tap…, but it is a veth, not a guest tap.
    assert linux_net.list_taps(netns=host) == {names["tap"]}
    assert linux_net.list_bridges(netns=host) == {names["bridge"]}
    assert linux_net.link_exists(names["tap"], netns=host)
    assert not linux_net.link_exists("tapnothere", netns=host)


def _snapshot(*netns: str) -> dict[str, Any]:
    """What plumbing decides, per namespace: links, their settings, addresses, routes, fdb."""
    state: dict[str, Any] = {}
    for ns in netns:
        for link in _ip(ns, "-d", "addr", "show"):
            addresses = {a for a in _addresses(link) if not a.startswith("fe80:")}
            info = link.get("linkinfo", {})
            state[f"{ns}/{link['ifname']}"] = (
                link["ifindex"],
                link["mtu"],
                link["address"],
                link.get("master"),
                "UP" in link["flags"],
                info.get("info_kind"),
                sorted(addresses),
            )
            if info.get("info_kind") == "vxlan":
                state[f"{ns}/{link['ifname']}/fdb"] = _flood_list(ns, link["ifname"])
        state[f"{ns}/routes"] = _ip(ns, "route", "show")
    return state


def test_doing_everything_twice_changes_nothing(host: str, namespaces: NameMaker) -> None:
    names = _plumb_guest_and_dhcp(host, namespaces)
    before = _snapshot(host, names["dhcp"])

    linux_net.ensure_namespace(names["dhcp"])
    linux_net.ensure_bridge(names["bridge"], 1400, netns=host)
    linux_net.plug_tap(names["tap"], names["bridge"], GUEST_MAC, 1400, netns=host)
    linux_net.plug_namespace_port(
        names["bridge"],
        names["port"],
        names["dhcp"],
        "fa:16:3e:00:00:02",
        ["fd00::2/64", "10.0.0.2/24"],
        1400,
        netns=host,
    )
    linux_net.ensure_vxlan(7, names["bridge"], "192.0.2.1", ["192.0.2.2"], mtu=1400, netns=host)
    linux_net.set_default_route(names["dhcp"], "10.0.0.1")

    assert _snapshot(host, names["dhcp"]) == before


def test_unplugging_removes_links_and_tolerates_their_absence(
    host: str, namespaces: NameMaker
) -> None:
    names = _plumb_guest_and_dhcp(host, namespaces)
    inner = linux_net.namespace_device(names["port"])

    for _ in range(2):
        linux_net.unplug_tap(names["tap"], netns=host)
        linux_net.unplug_namespace_port(names["port"], netns=host)
        linux_net.delete_vxlan(7, netns=host)
        linux_net.delete_bridge(names["bridge"], netns=host)

    assert _link_names(host) == {"lo"}
    assert inner not in _link_names(names["dhcp"])


def test_ensure_fixes_links_that_already_exist(host: str, namespaces: NameMaker) -> None:
    bridge = bridge_name(_port_id())
    for command in (
        ("link", "add", bridge, "type", "bridge", "stp_state", "1", "forward_delay", "1500"),
        ("addr", "add", "10.5.5.5/24", "dev", bridge),
        ("link", "add", "vxlan-9", "type", "vxlan", "id", "9", "local", "192.0.2.99"),
        ("link", "set", "vxlan-9", "master", bridge),
    ):
        assert _run("ip", "-n", host, *command).returncode == 0

    linux_net.ensure_bridge(bridge, 1450, netns=host)
    linux_net.ensure_vxlan(9, bridge, "192.0.2.1", [], netns=host)

    settled = _link(host, bridge)
    assert settled["linkinfo"]["info_data"]["stp_state"] == 0
    assert settled["linkinfo"]["info_data"]["forward_delay"] == 0
    assert settled["addr_info"] == [] and settled["mtu"] == 1450 and "UP" in settled["flags"]
    vxlan = _link(host, "vxlan-9")
    assert vxlan["linkinfo"]["info_data"]["local"] == "192.0.2.1"
    assert vxlan["linkinfo"]["info_data"]["port"] == 4789
    assert vxlan["master"] == bridge


def test_namespace_port_keeps_exactly_the_given_addresses(host: str, namespaces: NameMaker) -> None:
    bridge, port, dhcp = bridge_name(_port_id()), _port_id(), namespaces("dhcp")
    linux_net.ensure_bridge(bridge, 1500, netns=host)
    mac = "fa:16:3e:00:00:03"
    plug = linux_net.plug_namespace_port
    plug(bridge, port, dhcp, mac, ["10.0.0.2/24"], 1500, netns=host)
    plug(bridge, port, dhcp, mac, ["10.0.0.2/24", "10.0.0.5/24"], 1500, netns=host)

    # 10.0.0.2 came first, so it is the primary: removing it must not take 10.0.0.5 along.
    plug(bridge, port, dhcp, mac, ["10.0.0.5/24", "10.1.0.5/16"], 1500, netns=host)

    inner = _link(dhcp, linux_net.namespace_device(port))
    global_addresses = {a for a in _addresses(inner) if not a.startswith("fe80:")}
    assert global_addresses == {"10.0.0.5/24", "10.1.0.5/16"}


def test_two_namespace_ports_on_one_bridge_reach_each_other(
    host: str, namespaces: NameMaker
) -> None:
    bridge = bridge_name(_port_id())
    linux_net.ensure_bridge(bridge, 1500, netns=host)
    left, right = namespaces("left"), namespaces("right")
    for ns, mac, cidr in (
        (left, "fa:16:3e:00:00:0a", "10.0.0.10/24"),
        (right, "fa:16:3e:00:00:0b", "10.0.0.11/24"),
    ):
        linux_net.plug_namespace_port(bridge, _port_id(), ns, mac, [cidr], 1500, netns=host)

    assert _pings(left, "10.0.0.11", attempts=3)
    assert _pings(right, "10.0.0.10", attempts=3)


def test_vxlan_joins_a_segment_across_hosts_and_only_that_segment(
    two_hosts: tuple[tuple[str, str], tuple[str, str]], namespaces: NameMaker
) -> None:
    (host_a, ip_a), (host_b, ip_b) = two_hosts
    red, blue = 100, 200
    ports: dict[tuple[str, int], str] = {}
    addresses = {(host_a, red): 1, (host_b, red): 2, (host_a, blue): 3, (host_b, blue): 4}
    for host, local, remote in ((host_a, ip_a, ip_b), (host_b, ip_b, ip_a)):
        for vni in (red, blue):
            bridge = bridge_name(str(vni))
            linux_net.ensure_bridge(bridge, 1450, netns=host)
            linux_net.ensure_vxlan(vni, bridge, local, [remote], dev=UNDERLAY, netns=host)
            ns = ports[host, vni] = namespaces(f"p{vni}")
            cidr = f"10.9.0.{addresses[host, vni]}/24"
            mac = f"fa:16:3e:00:{vni // 100:02x}:{addresses[host, vni]:02x}"
            linux_net.plug_namespace_port(bridge, _port_id(), ns, mac, [cidr], 1450, netns=host)

    assert _pings(ports[host_a, red], "10.9.0.2", attempts=3)
    assert _pings(ports[host_a, blue], "10.9.0.4", attempts=3)
    # Same subnet, other VNI: nothing crosses between the segments.
    assert not _pings(ports[host_a, red], "10.9.0.4", attempts=1)
    assert not _pings(ports[host_b, blue], "10.9.0.2", attempts=1)


def test_vxlan_floods_to_exactly_the_current_remotes(host: str) -> None:
    bridge = bridge_name(_port_id())
    linux_net.ensure_bridge(bridge, 1500, netns=host)

    linux_net.ensure_vxlan(42, bridge, "192.0.2.1", ["192.0.2.10", "192.0.2.11"], netns=host)
    assert _flood_list(host, "vxlan-42") == {"192.0.2.10", "192.0.2.11"}

    linux_net.ensure_vxlan(42, bridge, "192.0.2.1", ["192.0.2.11", "192.0.2.12"], netns=host)
    assert _flood_list(host, "vxlan-42") == {"192.0.2.11", "192.0.2.12"}

    linux_net.ensure_vxlan(42, bridge, "192.0.2.1", [], netns=host)
    assert _flood_list(host, "vxlan-42") == set()


def test_default_route_and_routes_are_replaced_not_added(host: str, namespaces: NameMaker) -> None:
    bridge, router = bridge_name(_port_id()), namespaces("router")
    linux_net.ensure_bridge(bridge, 1500, netns=host)
    mac = "fa:16:3e:00:00:21"
    linux_net.plug_namespace_port(bridge, _port_id(), router, mac, ["10.0.0.9/24"], 1500, host)

    linux_net.set_default_route(router, "10.0.0.1")
    linux_net.set_default_route(router, "10.0.0.254")
    linux_net.add_route(router, "192.168.50.0/24", "10.0.0.7")
    linux_net.add_route(router, "192.168.50.0/24", "10.0.0.8")

    assert [r["gateway"] for r in _ip(router, "route", "show", "default")] == ["10.0.0.254"]
    routes = _ip(router, "route", "show", "192.168.50.0/24")
    assert [r["gateway"] for r in routes] == ["10.0.0.8"]


def test_namespaces_come_and_go_without_killing_anyone(namespaces: NameMaker) -> None:
    name = namespaces("life")
    linux_net.ensure_namespace(name)
    linux_net.ensure_namespace(name)
    assert linux_net.namespace_exists(name)
    assert name in _run("ip", "netns", "list").stdout

    inside = ("ip", "netns", "exec", name, "sh", "-c", "echo inside; exec sleep 30")
    sleeper = subprocess.Popen(inside, stdout=subprocess.PIPE, text=True)
    try:
        assert sleeper.stdout is not None and sleeper.stdout.readline() == "inside\n"
        linux_net.delete_namespace(name)
        linux_net.delete_namespace(name)
        assert not linux_net.namespace_exists(name)
        assert name not in _run("ip", "netns", "list").stdout
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.communicate()


def test_missing_namespace_is_an_error_and_is_not_created(namespaces: NameMaker) -> None:
    missing = namespaces("missing")
    with pytest.raises(NetworkPlumbingError, match=missing):
        linux_net.ensure_bridge(bridge_name(_port_id()), 1500, netns=missing)
    assert not linux_net.namespace_exists(missing)
    with pytest.raises(NetworkPlumbingError, match="not a network namespace name"):
        linux_net.ensure_namespace("../etc")


def test_plugging_into_what_is_not_there_fails_clearly(host: str) -> None:
    tap, absent = devname(_port_id()), bridge_name(_port_id())
    with pytest.raises(NetworkPlumbingError, match=f"{absent} does not exist"):
        linux_net.plug_tap(tap, absent, GUEST_MAC, 1500, netns=host)
    assert not linux_net.link_exists(tap, netns=host)

    assert _run("ip", "-n", host, "link", "add", "brqveth", "type", "veth").returncode == 0
    with pytest.raises(NetworkPlumbingError, match="brqveth is a veth, not a bridge"):
        linux_net.ensure_bridge("brqveth", 1500, netns=host)


async def test_calls_into_a_namespace_never_signal_the_process(host: str) -> None:
    """pyroute2 stops the child it forks for a namespace with SIGTERM; the child shares the
    event loop's signal wakeup fd, and a service's SIGTERM handler must not hear it."""
    loop = asyncio.get_running_loop()
    heard: list[int] = []
    loop.add_signal_handler(signal.SIGTERM, heard.append, signal.SIGTERM)
    try:
        for _ in range(40):
            await asyncio.to_thread(linux_net.link_exists, "lo", host)
        await asyncio.sleep(0.1)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    assert heard == []
