"""What a network's dnsmasq reads: the network as the DHCP agent sees it (`DhcpNetwork`,
its subnets and hosts, checked on construction) and the ``host`` and ``opts`` files
rendered from it (pure; ``dhcp.Dnsmasq`` writes them and runs dnsmasq)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from cumulo import exception

LEASE_SECONDS = 86400
WIN2K3_STATIC_ROUTES = 249

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_ANY_V4 = ipaddress.IPv4Network("0.0.0.0/0")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DhcpError(exception.CumuloError):
    message = "DHCP for network %(network_id)s: %(reason)s"


def _address(text: str, version: int, what: str) -> None:
    if ipaddress.ip_address(text).version != version:
        raise ValueError(f"{what} {text} is not an IPv{version} address")


@dataclass(frozen=True)
class DhcpSubnet:
    id: str
    cidr: str
    gateway_ip: str | None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()
    enable_dhcp: bool = True
    ip_version: int = 4

    def __post_init__(self) -> None:
        # Every value ends up in a dnsmasq file: parse them so none can carry a
        # comma or a newline into a line of its own.
        if not _ID.match(self.id):
            raise ValueError(f"subnet id {self.id!r} cannot be a dnsmasq tag")
        if ipaddress.ip_network(self.cidr).version != self.ip_version:
            raise ValueError(f"subnet {self.id}: {self.cidr} is not IPv{self.ip_version}")
        if self.gateway_ip is not None:
            _address(self.gateway_ip, self.ip_version, "gateway")
        for server in self.dns_nameservers:
            _address(server, self.ip_version, "DNS server")
        for destination, nexthop in self.host_routes:
            if ipaddress.ip_network(destination).version != self.ip_version:
                raise ValueError(f"route {destination} is not IPv{self.ip_version}")
            _address(nexthop, self.ip_version, "next hop")

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.cidr)

    @property
    def tag(self) -> str:
        return f"subnet-{self.id}"

    @property
    def served(self) -> bool:
        return self.enable_dhcp and self.ip_version == 4


@dataclass(frozen=True)
class DhcpHost:
    port_id: str
    mac: str
    ip: str
    hostname: str

    def __post_init__(self) -> None:
        if not _MAC.match(self.mac.lower()):
            raise ValueError(f"port {self.port_id}: bad MAC address {self.mac!r}")
        object.__setattr__(self, "mac", self.mac.lower())
        object.__setattr__(self, "ip", str(ipaddress.ip_address(self.ip)))
        if not _LABEL.match(self.hostname):
            raise ValueError(f"port {self.port_id}: bad host name {self.hostname!r}")


@dataclass(frozen=True)
class DhcpNetwork:
    id: str
    mtu: int
    subnets: tuple[DhcpSubnet, ...]
    hosts: tuple[DhcpHost, ...] = ()
    domain: str = "openstacklocal"

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"network id {self.id!r} cannot name a directory")
        domain = self.domain.rstrip(".")
        if not all(_LABEL.match(label) for label in domain.split(".")):
            raise ValueError(f"network {self.id}: bad DNS domain {self.domain!r}")
        object.__setattr__(self, "domain", domain)

    @property
    def served_subnets(self) -> tuple[DhcpSubnet, ...]:
        return tuple(s for s in self.subnets if s.served)


def hosts_file(network: DhcpNetwork) -> str:
    """One ``mac,hostname.domain.,ip`` line per fixed IP in a served subnet."""
    served = [s.network for s in network.served_subnets]
    lines = sorted(
        f"{host.mac},{host.hostname}.{network.domain}.,{host.ip}"
        for host in network.hosts
        if any(ipaddress.ip_address(host.ip) in net for net in served)
    )
    return "".join(f"{line}\n" for line in lines)


def _classless_routes(subnet: DhcpSubnet, network: DhcpNetwork) -> tuple[str | None, list[str]]:
    """The router to announce and the RFC 3442 routes, the way Neutron builds them.

    A 0.0.0.0/0 host route stands in for a missing gateway; other IPv4 subnets of
    the network are on-link. A client that takes option 121 ignores option 3, so
    the default route is repeated at the end of the list.
    """
    gateway = subnet.gateway_ip
    routes = []
    for destination, nexthop in subnet.host_routes:
        if ipaddress.ip_network(destination) == _ANY_V4:
            gateway = gateway or nexthop
        else:
            routes.append(f"{ipaddress.ip_network(destination)},{nexthop}")
    routes += [
        f"{other.network},0.0.0.0"
        for other in network.subnets
        if other.ip_version == 4 and other.network != subnet.network
    ]
    if routes and gateway:
        routes.append(f"{_ANY_V4},{gateway}")
    return gateway, routes


def _subnet_options(subnet: DhcpSubnet, network: DhcpNetwork) -> list[str]:
    tag = f"tag:{subnet.tag}"
    options = []
    if subnet.dns_nameservers:
        options.append(f"{tag},option:dns-server,{','.join(subnet.dns_nameservers)}")
    gateway, routes = _classless_routes(subnet, network)
    if routes:
        options.append(f"{tag},option:classless-static-route,{','.join(routes)}")
        options.append(f"{tag},{WIN2K3_STATIC_ROUTES},{','.join(routes)}")
    # A bare option:router tells dnsmasq to send no router rather than itself.
    options.append(f"{tag},option:router,{gateway}" if gateway else f"{tag},option:router")
    if network.mtu > 0:
        options.append(f"{tag},option:mtu,{network.mtu}")
    return options


def opts_file(network: DhcpNetwork) -> str:
    """The DHCP options of every served subnet, each line scoped by the subnet's tag."""
    lines = [line for s in network.served_subnets for line in _subnet_options(s, network)]
    return "".join(f"{line}\n" for line in lines)
