"""Host-side plumbing over netlink: namespaces, bridges, taps, VXLAN and namespace ports.

This is what Neutron's Linux-bridge agent and os-vif do on a compute host: one bridge
(``brq…``) per network; a persistent tap per guest NIC that QEMU opens by name
(libvirt ``<interface type='ethernet'><target dev='tap…' managed='no'/>``); a VXLAN device
per network that carries it to the other hosts; and veth pairs that attach the DHCP
server and routers, which live in their own network namespaces (``ns-…`` inside).

Every function is synchronous (the agent calls it in a thread: pyroute2 runs its own
event loop, so never call these from a running loop), idempotent (ensure twice, remove
what is already gone) and takes ``netns``: None for the namespace this process runs in,
or the name of a namespace under /run/netns, as ``ip netns`` makes them. Any failure is
raised as ``NetworkPlumbingError``.
"""

from __future__ import annotations

import errno
import ipaddress
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2 import config as pyroute2_config
from pyroute2 import netns as pyroute2_netns
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifinfmsg import IFF_UP

from cumulo.exception import CumuloError
from cumulo.network.model import NIC_NAME_LEN, devname

# pyroute2 forks a short-lived child to open a socket in a named namespace and stops it
# with SIGTERM. The child inherits the event loop's signal wakeup fd, so its SIGTERM would
# reach the parent's loop and stop the service; with this the child dies of it silently.
pyroute2_config.disable_mp_signal = True

NAMESPACE_DIR = Path("/run/netns")
VXLAN_PORT = 4789
FLOOD_MAC = "00:00:00:00:00:00"
"""The all-zeros FDB entry: where a VXLAN device sends what it does not know (head-end
replication, one copy per remote, instead of multicast)."""

_ADDR_GEN_MODE_NONE = 1
# ``ip tuntap add mode tap`` defaults; QEMU sets the flags it needs when it opens the tap.
_TAP_FLAGS = {"no_pi": True, "one_queue": False, "vnet_hdr": False, "multi_queue": False}
# The kind a link reports back differs from the one it is created with for tuntap.
_REPORTED_KIND = {"tuntap": "tun"}

Link = Any
"""A pyroute2 ``ifinfmsg`` (untyped)."""


class NetworkPlumbingError(CumuloError):
    message = "Network plumbing on this host failed: %(reason)s"


class _Fault(Exception):
    """A failure found here, reported as ``NetworkPlumbingError`` naming the action."""


def vxlan_name(vni: int) -> str:
    """The VXLAN device of a segment: ``vxlan-`` and the VNI (at most 14 characters)."""
    return f"vxlan-{vni}"[:NIC_NAME_LEN]


def namespace_device(port_id: str) -> str:
    """The namespace end of a port's veth pair: ``ns-`` and the port id, cut to 14."""
    return ("ns-" + port_id)[:NIC_NAME_LEN]


def host_tap_mac(guest_mac: str) -> str:
    """The MAC of the host side of a guest's tap: the guest's, with ``fe`` as first octet.

    A bridge keeps each port's own MAC as one of its local addresses: were the tap's the
    guest's, frames for the guest would stop at the host instead of leaving by the tap.
    ``fe`` is the highest unicast first octet, so the bridge, which takes the lowest port
    MAC as its own, never takes a tap's.
    """
    return "fe" + guest_mac.lower()[2:]


# -- namespaces ---------------------------------------------------------------------------


def namespace_exists(name: str) -> bool:
    """Whether /run/netns/<name> is a mounted namespace (not a stale empty file)."""
    path = _namespace_path(name)
    try:
        return path.stat().st_dev == os.stat("/proc/self/ns/net").st_dev
    except FileNotFoundError:
        return False


def ensure_namespace(name: str) -> None:
    if namespace_exists(name):
        return
    with _translated(f"create namespace {name}"):
        if _namespace_path(name).exists():
            pyroute2_netns.remove(name)  # a mountpoint left by a creation that died
        try:
            pyroute2_netns.create(name)
        except FileExistsError:
            if not namespace_exists(name):
                raise


def delete_namespace(name: str) -> None:
    """Remove the namespace's name; processes still inside keep it alive, unkilled."""
    if not _namespace_path(name).exists():
        return
    with _translated(f"delete namespace {name}"):
        try:
            pyroute2_netns.remove(name)
        except FileNotFoundError:
            pass


# -- bridges and taps ---------------------------------------------------------------------


def ensure_bridge(name: str, mtu: int, netns: str | None = None) -> None:
    """A bridge that only switches: up, no address (not even IPv6 link-local), no STP."""
    with _rtnl(netns, f"ensure bridge {name}") as ipr:
        link = _ensure_link(ipr, name, "bridge")
        index = link["index"]
        # Two requests: the kernel checks the delay first, and refuses 0 while STP is on.
        if link.get(("linkinfo", "data", "br_stp_state")) != 0:
            ipr.link("set", index=index, kind="bridge", br_stp_state=0)
        if link.get(("linkinfo", "data", "br_forward_delay")) != 0:
            ipr.link("set", index=index, kind="bridge", br_forward_delay=0)
        if link.get(("af_spec", "AF_INET6", "IFLA_INET6_ADDR_GEN_MODE")) != _ADDR_GEN_MODE_NONE:
            ipr.link("set", index=index, IFLA_AF_SPEC=_NO_LINK_LOCAL)
        for addr in ipr.addr("dump", index=index):
            ipr.addr("del", index=index, address=addr.get("address"), prefixlen=addr["prefixlen"])
        _set_link(ipr, link, mtu=mtu, up=True)


def delete_bridge(name: str, netns: str | None = None) -> None:
    with _rtnl(netns, f"delete bridge {name}") as ipr:
        _delete_link(ipr, name)


def attach_interface(name: str, bridge: str, netns: str | None = None) -> None:
    """Enslave the existing interface ``name`` (a host's uplink) to ``bridge``, up."""
    with _rtnl(netns, f"attach {name} to {bridge}") as ipr:
        master = _existing_link(ipr, bridge, "bridge")["index"]
        _set_link(ipr, _existing_link(ipr, name), master=master, up=True)


def plug_tap(tap: str, bridge: str, mac: str, mtu: int, netns: str | None = None) -> None:
    """A persistent tap for a guest NIC whose MAC is ``mac``, up on ``bridge``."""
    with _rtnl(netns, f"plug tap {tap} into {bridge}") as ipr:
        master = _existing_link(ipr, bridge, "bridge")["index"]
        link = _ensure_link(ipr, tap, "tuntap", mode="tap", ifr=_TAP_FLAGS)
        _set_link(ipr, link, address=host_tap_mac(mac), mtu=mtu, master=master, up=True)


def unplug_tap(tap: str, netns: str | None = None) -> None:
    with _rtnl(netns, f"unplug tap {tap}") as ipr:
        _delete_link(ipr, tap)


# -- VXLAN --------------------------------------------------------------------------------


def ensure_vxlan(
    vni: int,
    bridge: str,
    local_ip: str,
    remote_ips: Collection[str],
    dev: str | None = None,
    mtu: int | None = None,
    netns: str | None = None,
) -> None:
    """The segment's VXLAN device on ``bridge``, flooding to exactly ``remote_ips``.

    A device whose VNI, local address, port or underlay differ is made again (the kernel
    cannot change them in place). ``mtu`` None keeps the kernel's choice (underlay MTU - 50).
    """
    name = vxlan_name(vni)
    with _rtnl(netns, f"ensure vxlan {name} on {bridge}") as ipr:
        remotes = {_ipv4(ip) for ip in remote_ips}
        spec: dict[str, Any] = {
            "vxlan_id": vni,
            "vxlan_local": _ipv4(local_ip),
            "vxlan_port": VXLAN_PORT,
            "vxlan_learning": 1,
        }
        if dev is not None:
            spec["vxlan_link"] = _existing_link(ipr, dev)["index"]
        master = _existing_link(ipr, bridge, "bridge")["index"]
        link = _find_link(ipr, name)
        if link is not None and not _vxlan_matches(link, spec):
            _delete_link(ipr, name)
        link = _ensure_link(ipr, name, "vxlan", **spec)
        _set_link(ipr, link, mtu=mtu, master=master, up=True)
        _sync_flood_list(ipr, link["index"], remotes)


def delete_vxlan(vni: int, netns: str | None = None) -> None:
    with _rtnl(netns, f"delete vxlan {vxlan_name(vni)}") as ipr:
        _delete_link(ipr, vxlan_name(vni))


def _vxlan_matches(link: Link, spec: dict[str, Any]) -> bool:
    if _kind(link) != "vxlan":
        return False
    data = link.get(("linkinfo", "data"))
    return all(data.get(key) == value for key, value in spec.items()) and (
        "vxlan_link" in spec or not data.get("vxlan_link")
    )


def _sync_flood_list(ipr: IPRoute, index: int, remotes: set[str]) -> None:
    present = {
        entry.get("dst")
        for entry in ipr.fdb("dump", ifindex=index)
        if entry.get("ifindex") == index
        and entry.get("lladdr") == FLOOD_MAC
        and entry.get("dst") is not None
    }
    for remote in remotes - present:
        ipr.fdb("append", ifindex=index, lladdr=FLOOD_MAC, dst=remote)
    for remote in present - remotes:
        ipr.fdb("del", ifindex=index, lladdr=FLOOD_MAC, dst=remote)


# -- namespace ports ----------------------------------------------------------------------


def plug_namespace_port(
    bridge: str,
    port_id: str,
    namespace: str,
    mac: str,
    cidrs: list[str],
    mtu: int,
    netns: str | None = None,
    device: str | None = None,
) -> None:
    """Attach ``namespace`` to ``bridge`` as port ``port_id`` (how DHCP and routers attach).

    A veth pair: ``devname(port_id)`` on the bridge, ``device`` (by default
    ``namespace_device(port_id)``) inside ``namespace`` (made if missing) with ``mac`` and
    exactly the addresses ``cidrs`` (IPv6 link-local addresses are the kernel's and stay).
    """
    action = f"plug port {port_id} of namespace {namespace} into {bridge}"
    with _translated(action):
        wanted = {ipaddress.ip_interface(cidr) for cidr in cidrs}
    ensure_namespace(namespace)
    with _rtnl(netns, action) as ipr, _rtnl(namespace, action) as nsr:
        master = _existing_link(ipr, bridge, "bridge")["index"]
        inner = device or namespace_device(port_id)
        host_link, peer = _ensure_veth(ipr, nsr, devname(port_id), inner, namespace)
        _set_link(ipr, host_link, mtu=mtu, master=master, up=True)
        _set_link(nsr, peer, address=mac.lower(), mtu=mtu, up=True)
        _set_link(nsr, _existing_link(nsr, "lo"), up=True)
        _sync_addresses(nsr, peer["index"], wanted)


def unplug_namespace_port(port_id: str, netns: str | None = None) -> None:
    """Remove the port's veth pair (its namespace end goes with the host end)."""
    with _rtnl(netns, f"unplug namespace port {port_id}") as ipr:
        _delete_link(ipr, devname(port_id))


def _ensure_veth(
    ipr: IPRoute, nsr: IPRoute, host: str, inner: str, namespace: str
) -> tuple[Link, Link]:
    """The pair's two ends, made again unless they exist and are each other's peer.

    The pair is made with its peer born inside ``namespace``: no half-moved state.
    """
    host_link, peer = _find_link(ipr, host), _find_link(nsr, inner)
    if _is_veth_pair(host_link, peer):
        return host_link, peer
    _delete_link(ipr, host)
    _delete_link(nsr, inner)
    fd = os.open(_namespace_path(namespace), os.O_RDONLY)
    try:
        ipr.link("add", ifname=host, kind="veth", peer={"ifname": inner, "net_ns_fd": fd})
    finally:
        os.close(fd)
    return _existing_link(ipr, host), _existing_link(nsr, inner)


def _is_veth_pair(host: Link | None, peer: Link | None) -> bool:
    if host is None or peer is None or _kind(host) != "veth" or _kind(peer) != "veth":
        return False
    return bool(host.get("link") == peer["index"] and peer.get("link") == host["index"])


def _sync_addresses(ipr: IPRoute, index: int, wanted: set[Any]) -> None:
    # Stale ones go first and the rest is read again: removing a primary IPv4 address
    # takes the secondaries of its subnet with it.
    for iface in _addresses(ipr, index) - wanted:
        ipr.addr("del", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)
    for iface in wanted - _addresses(ipr, index):
        extra = {}
        if iface.version == 4 and iface.network.prefixlen < 31:
            extra["broadcast"] = str(iface.network.broadcast_address)
        ipr.addr(
            "add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen, **extra
        )


def _addresses(ipr: IPRoute, index: int) -> set[Any]:
    found = {
        ipaddress.ip_interface(f"{addr.get('address')}/{addr['prefixlen']}")
        for addr in ipr.addr("dump", index=index)
    }
    return {iface for iface in found if not (iface.version == 6 and iface.ip.is_link_local)}


# -- routes -------------------------------------------------------------------------------


def set_default_route(namespace: str, gateway: str) -> None:
    """The default route of ``namespace`` (of the gateway's IP version) goes via ``gateway``."""
    version = ipaddress.ip_address(gateway).version
    add_route(namespace, "0.0.0.0/0" if version == 4 else "::/0", gateway)


def add_route(namespace: str, cidr: str, gateway: str) -> None:
    """Route ``cidr`` via ``gateway`` in ``namespace``, replacing any route to ``cidr``."""
    with _rtnl(namespace, f"route {cidr} via {gateway} in {namespace}") as ipr:
        network = ipaddress.ip_network(cidr)
        ipr.route("replace", dst=str(network), gateway=str(ipaddress.ip_address(gateway)))


# -- inventory ----------------------------------------------------------------------------


def link_exists(name: str, netns: str | None = None) -> bool:
    with _rtnl(netns, f"look up {name}") as ipr:
        return _find_link(ipr, name) is not None


def list_taps(netns: str | None = None) -> set[str]:
    """Guest taps (tuntap devices named ``tap…``): what repair compares with its ports."""
    return _names_of_kind("tap", "tun", netns)


def held_taps(netns: str | None = None) -> set[str]:
    """Guest taps a process holds open (carrier up): QEMU holds a running guest's. A tap
    made again after it was deleted under a running guest is not held: QEMU opened the
    old one, once, when the guest started."""
    return _names_of_kind("tap", "tun", netns, held=True)


def list_bridges(netns: str | None = None) -> set[str]:
    """Network bridges (``brq…``): what repair compares with its networks."""
    return _names_of_kind("brq", "bridge", netns)


def bridge_ports(bridge: str, netns: str | None = None) -> set[str]:
    """The names of the links enslaved to ``bridge`` (none when it does not exist)."""
    with _rtnl(netns, f"list the ports of {bridge}") as ipr:
        master = _find_link(ipr, bridge)
        if master is None:
            return set()
        return {
            str(link.get("ifname"))
            for link in ipr.link("dump")
            if link.get("master") == master["index"]
        }


def list_veths(prefix: str, netns: str | None = None) -> set[str]:
    """The veth ends named ``prefix…`` (a router's ``qr-``/``qg-`` interfaces)."""
    return _names_of_kind(prefix, "veth", netns)


def delete_link(name: str, netns: str | None = None) -> None:
    """Remove the link ``name`` if it exists (a veth end takes its peer with it)."""
    with _rtnl(netns, f"delete {name}") as ipr:
        _delete_link(ipr, name)


def _names_of_kind(prefix: str, kind: str, netns: str | None, held: bool = False) -> set[str]:
    """The links of ``kind`` named ``prefix…``; only those with carrier when ``held``."""
    with _rtnl(netns, f"list {kind} links") as ipr:
        return {
            str(link.get("ifname"))
            for link in ipr.link("dump")
            if _kind(link) == kind
            and str(link.get("ifname")).startswith(prefix)
            and (not held or link.get("carrier") == 1)
        }


# -- netlink helpers ----------------------------------------------------------------------

_NO_LINK_LOCAL = {
    "attrs": [["AF_INET6", {"attrs": [["IFLA_INET6_ADDR_GEN_MODE", _ADDR_GEN_MODE_NONE]]}]]
}


def _namespace_path(name: str) -> Path:
    if not name or "/" in name or name in (".", ".."):
        raise NetworkPlumbingError(reason=f"{name!r} is not a network namespace name")
    return NAMESPACE_DIR / name


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Library and kernel errors become ``NetworkPlumbingError`` naming the action."""
    try:
        yield
    except NetworkPlumbingError:
        raise
    except _Fault as exc:
        raise NetworkPlumbingError(reason=f"{action}: {exc}") from None
    except NetlinkError as exc:
        reason = f"{action}: {os.strerror(exc.code) if exc.code else exc}"
        raise NetworkPlumbingError(reason=reason) from exc
    except (OSError, ValueError, RuntimeError) as exc:
        raise NetworkPlumbingError(reason=f"{action}: {exc}") from exc


@contextmanager
def _rtnl(netns: str | None, action: str) -> Iterator[IPRoute]:
    """A netlink socket in ``netns``, which must exist (pyroute2 would otherwise make it)."""
    with _translated(action):
        if netns is not None and not namespace_exists(netns):
            raise _Fault(f"no network namespace {netns!r}")
        with IPRoute(netns=netns, flags=0) as ipr:
            yield ipr


def _find_link(ipr: IPRoute, name: str) -> Link | None:
    try:
        return ipr.link("get", ifname=name)[0]
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise


def _existing_link(ipr: IPRoute, name: str, kind: str | None = None) -> Link:
    link = _find_link(ipr, name)
    if link is None:
        raise _Fault(f"{name} does not exist")
    if kind is not None and _kind(link) != kind:
        raise _Fault(f"{name} is a {_kind(link)}, not a {kind}")
    return link


def _ensure_link(ipr: IPRoute, name: str, kind: str, **spec: Any) -> Link:
    """The link ``name`` of ``kind``, made with ``spec`` if missing."""
    if _find_link(ipr, name) is None:
        try:
            ipr.link("add", ifname=name, kind=kind, **spec)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:  # a concurrent ensure made it first
                raise
    return _existing_link(ipr, name, _REPORTED_KIND.get(kind, kind))


def _set_link(ipr: IPRoute, link: Link, *, up: bool, **wanted: Any) -> None:
    """Send only what differs, so ensuring a settled link changes nothing."""
    changes = {
        key: value for key, value in wanted.items() if value is not None and link.get(key) != value
    }
    if changes:
        ipr.link("set", index=link["index"], **changes)
    if up and not link["flags"] & IFF_UP:
        ipr.link("set", index=link["index"], state="up")


def _delete_link(ipr: IPRoute, name: str) -> None:
    link = _find_link(ipr, name)
    if link is None:
        return
    try:
        ipr.link("del", index=link["index"])
    except NetlinkError as exc:
        if exc.code != errno.ENODEV:
            raise


def _kind(link: Link) -> str | None:
    kind = link.get(("linkinfo", "kind"))
    return None if kind is None else str(kind)


def _ipv4(address: str) -> str:
    """VXLAN here runs over an IPv4 underlay."""
    return str(ipaddress.IPv4Address(address))
