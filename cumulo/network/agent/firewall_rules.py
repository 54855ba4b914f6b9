"""The security-group rules of guest ports rendered as iptables and ebtables chains (pure:
no system call); ``firewall.IptablesFirewall`` applies them. The layout is drawn in
``firewall``'s docstring."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CHAIN_PREFIX = "cumulo-"
TOP_CHAIN = "cumulo-FORWARD"
SG_CHAIN = "cumulo-sg-chain"
FALLBACK_CHAIN = "cumulo-sg-fallback"
BRIDGE_TOP_CHAIN = "cumulo-PREROUTING"
BRIDGE_NETFILTER_SYSCTLS = (
    "net.bridge.bridge-nf-call-iptables=1",
    "net.bridge.bridge-nf-call-ip6tables=1",
)

# Protocols the Neutron API accepts by name, rendered by number unless iptables
# needs the name to load the match for ports or ICMP types.
_PROTOCOL_NUMBERS = {
    "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17, "dccp": 33,
    "ipv6-encap": 41, "ipv6-route": 43, "ipv6-frag": 44, "rsvp": 46, "gre": 47,
    "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59,
    "ipv6-opts": 60, "ospf": 89, "vrrp": 112, "pgm": 113, "sctp": 132, "udplite": 136,
}  # fmt: skip
_PORT_MATCH = {"tcp", "udp", "sctp", "dccp"}
_NAMED = (*_PORT_MATCH, "udplite", "icmp", "ipv6-icmp")  # iptables loads matches by these
_BY_NAME = {_PROTOCOL_NUMBERS[name]: name for name in _NAMED}
_PORTED = {_PROTOCOL_NUMBERS[name] for name in (*_PORT_MATCH, "udplite")}
_ANY_PROTOCOL = {"", "any", "0"}
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_DEVICE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_PORT_ID = re.compile(r"[A-Za-z0-9_-]{10,}")  # a UUID in practice; 10 characters name chains
# The longest name is then cumulo<6>-sg-fallback, 24 characters: iptables-restore refuses
# over 28, and so does ebtables-restore of the nft backend (though `ebtables -N` takes more).
_SCOPE = re.compile(r"[a-z0-9]{1,6}")
# What follows a scope's prefix in the chains it creates, and so may flush or delete.
_OWNED_SUFFIX = r"(FORWARD|sg-chain|sg-fallback|PREROUTING|[iosa][A-Za-z0-9_-]{10})"

_ESTABLISHED = "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
_INVALID = "-m conntrack --ctstate INVALID -j DROP"


class FirewallError(Exception):
    """An iptables/ebtables tool refused the ruleset or a bridge sysctl could not be set."""


@dataclass(frozen=True)
class ChainNames:
    """The chains of one scope, all named ``cumulo<scope>-…``.

    A scope has no ``-``, so the first one after ``cumulo`` ends it: no name of one
    scope is a name of another, and ``owned`` matches exactly this scope's chains.
    """

    prefix: str
    top: str
    sg: str
    fallback: str
    bridge_top: str
    owned: re.Pattern[str]

    def port(self, kind: str, port: PortFilter) -> str:
        return f"{self.prefix}{kind}{port.port_id[:10]}"


def chain_names(scope: str) -> ChainNames:
    if scope and not _SCOPE.fullmatch(scope):
        raise ValueError(f"a scope is 1-6 characters of [a-z0-9], not {scope!r}")
    prefix = f"cumulo{scope}-"
    return ChainNames(
        prefix=prefix,
        top=f"{prefix}FORWARD",
        sg=f"{prefix}sg-chain",
        fallback=f"{prefix}sg-fallback",
        bridge_top=f"{prefix}PREROUTING",
        owned=re.compile(re.escape(prefix) + _OWNED_SUFFIX),
    )


@dataclass(frozen=True)
class FirewallRule:
    """One security group rule as it applies to one port.

    ``remote_ips`` is a remote group already expanded to its members' addresses:
    ``None`` means the rule names no remote group, ``()`` a group without members
    (the rule then matches nothing). For ICMP the port range carries type and code.
    """

    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_ips: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.direction not in ("ingress", "egress"):
            raise ValueError(f"direction must be ingress or egress, not {self.direction!r}")
        if self.ethertype not in ("IPv4", "IPv6"):
            raise ValueError(f"ethertype must be IPv4 or IPv6, not {self.ethertype!r}")
        if self.protocol is not None and _protocol_number(self.protocol) is None:
            raise ValueError(f"unknown protocol {self.protocol!r}")
        low, high = self.port_range_min, self.port_range_max
        if any(bound is not None and not 0 <= bound <= 65535 for bound in (low, high)):
            raise ValueError(f"port range {low}-{high} out of bounds")
        number = _protocol_number(self.protocol or "")
        if number in _PORTED and low and high and low > high:
            raise ValueError(f"port range {low}-{high} is reversed")
        if number in (1, 58) and any(bound is not None and bound > 255 for bound in (low, high)):
            raise ValueError(f"ICMP type/code {low}/{high} out of bounds")
        if self.remote_ip_prefix is not None and self.remote_ips is not None:
            raise ValueError("a rule has a remote_ip_prefix or remote_ips, not both")
        for address in (self.remote_ip_prefix, *(self.remote_ips or ())):
            if address is not None:
                _check_address(address)


@dataclass(frozen=True)
class PortFilter:
    """What the firewall needs to know about one port bound to this host."""

    port_id: str
    device: str
    mac: str
    fixed_ips: tuple[str, ...] = ()
    allowed_address_pairs: tuple[tuple[str, str], ...] = ()
    port_security_enabled: bool = True
    rules: tuple[FirewallRule, ...] = ()

    def __post_init__(self) -> None:
        if not _PORT_ID.fullmatch(self.port_id):
            raise ValueError(f"bad port id {self.port_id!r}")
        if not _DEVICE.fullmatch(self.device):
            raise ValueError(f"bad device name {self.device!r}")
        for mac in (self.mac, *(mac for _, mac in self.allowed_address_pairs if mac)):
            if not _MAC.fullmatch(mac.lower()):
                raise ValueError(f"bad MAC address {mac!r}")
        for ip in self.fixed_ips:
            _check_address(ip, host=True)
        for ip, _ in self.allowed_address_pairs:
            _check_address(ip)


@dataclass(frozen=True)
class Family:
    """What differs between the IPv4 and the IPv6 rendering of the same chains."""

    version: int
    ethertype: str
    icmp: str
    icmp_type_match: str
    ingress_fixed: tuple[str, ...]  # before INVALID: ND is never ESTABLISHED
    egress_before_spoof: tuple[str, ...]  # from the unspecified address
    egress_after_spoof: tuple[str, ...]


IPV4 = Family(
    version=4,
    ethertype="IPv4",
    icmp="icmp",
    icmp_type_match="-m icmp --icmp-type",
    ingress_fixed=("-p udp -m udp --sport 67 --dport 68 -j RETURN",),
    egress_before_spoof=(
        "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -j RETURN",
    ),
    egress_after_spoof=(
        "-p udp -m udp --sport 68 --dport 67 -j RETURN",
        "-p udp -m udp --sport 67 -j DROP",
    ),
)
IPV6 = Family(
    version=6,
    ethertype="IPv6",
    icmp="ipv6-icmp",
    icmp_type_match="-m icmp6 --icmpv6-type",
    # multicast listener query, neighbour solicitation and advertisement; DHCPv6 replies
    ingress_fixed=(
        *(f"-p ipv6-icmp -m icmp6 --icmpv6-type {t} -j RETURN" for t in (130, 135, 136)),
        "-p udp -m udp --sport 547 --dport 546 -j RETURN",
    ),
    # duplicate address detection: MLD reports and neighbour solicitations from ::
    egress_before_spoof=tuple(
        f"-s ::/128 -d ff02::/16 -p ipv6-icmp -m icmp6 --icmpv6-type {t} -j RETURN"
        for t in (131, 135, 143)
    ),
    # a guest is no router (RA) and no DHCPv6 server; the rest of ICMPv6 is ND and errors
    egress_after_spoof=(
        "-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP",
        "-p ipv6-icmp -j RETURN",
        "-p udp -m udp --sport 546 --dport 547 -j RETURN",
        "-p udp -m udp --sport 547 -j DROP",
    ),
)


def _check_address(text: str, *, host: bool = False) -> None:
    """Raise ValueError unless ``text`` is an IP network, or a bare address if ``host``."""
    if "%" in text or (host and "/" in text):  # no scope ids: they would reach iptables
        raise ValueError(f"bad IP address {text!r}")
    ipaddress.ip_network(text, strict=False)


def _protocol_number(protocol: str) -> int | None:
    name = protocol.lower()
    if name in _ANY_PROTOCOL:
        return 0
    if name.isdigit():
        return int(name) if int(name) <= 255 else None
    return _PROTOCOL_NUMBERS.get(name)


def _link_local(mac: str) -> ipaddress.IPv6Network:
    """The EUI-64 link-local address a guest derives from its MAC (RFC 4291)."""
    octets = bytearray(int(part, 16) for part in mac.split(":"))
    octets[0] ^= 0x02
    interface_id = bytes(octets[:3]) + b"\xff\xfe" + bytes(octets[3:])
    return ipaddress.IPv6Network((b"\xfe\x80" + bytes(6) + interface_id, 128))


def _address_pairs(port: PortFilter) -> list[tuple[str, IPNetwork]]:
    """(MAC, network) pairs the port may send from: its fixed IPs and allowed pairs."""
    mac = port.mac.lower()
    pairs = [(mac, ipaddress.ip_network(ip)) for ip in port.fixed_ips]
    pairs += [
        ((pair_mac or mac).lower(), ipaddress.ip_network(ip, strict=False))
        for ip, pair_mac in port.allowed_address_pairs
    ]
    return list(dict.fromkeys(pairs))


def _protocol_match(family: Family, rule: FirewallRule) -> str | None:
    """The ``-p``/port part of a rule, or None when it cannot match in this family."""
    number = _protocol_number(rule.protocol or "")
    if not number:
        return ""
    if number == 1 and family.version == 6 and (rule.protocol or "").lower() == "icmp":
        number = 58  # Neutron's legacy spelling of ICMPv6 in IPv6 rules
    name = _BY_NAME.get(number, str(number))
    low, high = rule.port_range_min, rule.port_range_max
    if name in ("icmp", "ipv6-icmp"):
        if name != family.icmp:
            return None
        if low is None:
            return f"-p {name}"
        return f"-p {name} {family.icmp_type_match} {low}" + ("" if high is None else f"/{high}")
    if low is None:
        return f"-p {name}"
    span = str(low) if high is None or high == low else f"{low}:{high}"
    if name in _PORT_MATCH:
        return f"-p {name} -m {name} --dport {span}"
    if name == "udplite":
        return f"-p udplite -m multiport --dports {span}"
    return f"-p {name}"


def _remotes(family: Family, rule: FirewallRule, own: set[IPNetwork]) -> list[str | None]:
    """The remote addresses a rule expands to; ``None`` stands for anywhere."""
    if rule.remote_ips is not None:
        networks = dict.fromkeys(ipaddress.ip_network(ip, strict=False) for ip in rule.remote_ips)
        return [str(n) for n in networks if n.version == family.version and n not in own]
    if rule.remote_ip_prefix is not None:
        network = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        if network.version != family.version:
            return []
        return [None] if network.prefixlen == 0 else [str(network)]
    return [None]


def _security_group_rules(family: Family, port: PortFilter, direction: str) -> list[str]:
    own = {ipaddress.ip_network(ip) for ip in port.fixed_ips}
    address_flag = "-s" if direction == "ingress" else "-d"
    specs: dict[str, None] = {}
    for rule in port.rules:
        if rule.direction != direction or rule.ethertype != family.ethertype:
            continue
        match = _protocol_match(family, rule)
        if match is None:
            continue
        for remote in _remotes(family, rule, own):
            parts = (f"{address_flag} {remote}" if remote else "", match, "-j RETURN")
            specs[" ".join(part for part in parts if part)] = None
    return list(specs)


def _spoof_rules(family: Family, port: PortFilter) -> list[str]:
    mac = port.mac.lower()
    pairs = [(m, n) for m, n in _address_pairs(port) if n.version == family.version]
    if family.version == 6:
        macs = dict.fromkeys([mac, *(m for m, _ in pairs)])
        pairs += [(m, _link_local(m)) for m in macs if (m, _link_local(m)) not in pairs]
    rules = [f"-s {network} -m mac --mac-source {m} -j RETURN" for m, network in pairs]
    if not port.fixed_ips:
        rules.append(f"-m mac --mac-source {mac} -j RETURN")  # nothing assigned to protect
    return [*rules, "-j DROP"]


def _ingress_rules(family: Family, port: PortFilter, names: ChainNames) -> list[str]:
    return [
        _ESTABLISHED,
        *family.ingress_fixed,
        _INVALID,
        *_security_group_rules(family, port, "ingress"),
        f"-j {names.fallback}",
    ]


def _egress_rules(family: Family, port: PortFilter, names: ChainNames) -> list[str]:
    return [
        *family.egress_before_spoof,
        f"-j {names.port('s', port)}",
        *family.egress_after_spoof,
        _ESTABLISHED,
        _INVALID,
        *_security_group_rules(family, port, "egress"),
        f"-j {names.fallback}",
    ]


def filter_chains(
    family: Family, ports: Sequence[PortFilter], names: ChainNames
) -> dict[str, list[str]]:
    """Every chain of one scope in one family's filter table, in declaration order."""
    top: list[str] = []
    unfiltered: list[str] = []
    dispatch: list[str] = []
    chains = {names.top: top, names.sg: dispatch, names.fallback: ["-j DROP"]}
    for port in ports:
        to_guest = f"-m physdev --physdev-out {port.device} --physdev-is-bridged"
        from_guest = f"-m physdev --physdev-in {port.device} --physdev-is-bridged"
        if not port.port_security_enabled:
            unfiltered += [f"{to_guest} -j ACCEPT", f"{from_guest} -j ACCEPT"]
            continue
        ingress, egress = names.port("i", port), names.port("o", port)
        top += [f"{to_guest} -j {names.sg}", f"{from_guest} -j {names.sg}"]
        dispatch += [f"{to_guest} -j {ingress}", f"{from_guest} -j {egress}"]
        chains[ingress] = _ingress_rules(family, port, names)
        chains[egress] = _egress_rules(family, port, names)
        chains[names.port("s", port)] = _spoof_rules(family, port)
    top += unfiltered  # after the filtered jumps, so egress of a filtered sender still applies
    dispatch.append("-j ACCEPT")
    return chains


def _bare(network: IPNetwork) -> str:
    """A host network as ebtables-save prints it: without the ``/32``."""
    single = network.prefixlen == network.max_prefixlen
    return str(network.network_address) if single else str(network)


def _arp_rules(port: PortFilter) -> list[str]:
    """Source MAC and ARP sender (MAC, IPv4) must belong to the port."""
    pairs = _address_pairs(port)
    macs = list(dict.fromkeys([port.mac.lower(), *(mac for mac, _ in pairs)]))
    arp = [
        f"-p ARP -s {mac} --arp-ip-src {_bare(network)} --arp-mac-src {mac} -j RETURN"
        for mac, network in pairs
        if network.version == 4
    ]
    if not port.fixed_ips:
        arp += [f"-p ARP -s {mac} --arp-mac-src {mac} -j RETURN" for mac in macs]
    arp += [f"-p ARP -s {mac} --arp-ip-src 0.0.0.0 --arp-mac-src {mac} -j RETURN" for mac in macs]
    return [*arp, "-p ARP -j DROP", *(f"-s {mac} -j RETURN" for mac in macs), "-j DROP"]


def bridge_chains(ports: Sequence[PortFilter], names: ChainNames) -> dict[str, list[str]]:
    top: list[str] = []
    chains = {names.bridge_top: top}
    for port in ports:
        if port.port_security_enabled:
            top.append(f"-i {port.device} -j {names.port('a', port)}")
            chains[names.port("a", port)] = _arp_rules(port)
    return chains
