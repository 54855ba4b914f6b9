"""Address arithmetic and allocation: gateways, pools, free addresses, MACs.

Allocation picks a random address among the first free ones, so concurrent
creators rarely collide; when they do, the ``ip_allocations`` primary key
(subnet, address) rejects the second insert and the caller retries its
whole transaction.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from typing import Any

from cumulo.network.errors import InvalidInput

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
CANDIDATES = 64


def parse_cidr(cidr: str, ip_version: int) -> IPNetwork:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise InvalidInput(error_message=f"'{cidr}' is not a valid IP subnet") from None
    if str(net) != cidr and str(net.network_address) != cidr.split("/")[0]:
        raise InvalidInput(
            error_message=f"'{cidr}' isn't a recognized IP subnet cidr, '{net}' is recommended"
        )
    if net.version != ip_version:
        raise InvalidInput(error_message="Cidr and IP version are not compatible")
    if net.num_addresses < (2 if ip_version == 6 else 4):
        raise InvalidInput(error_message=f"Invalid CIDR {cidr} for IPv{ip_version} subnet.")
    return net


def parse_ip(value: Any) -> IPAddress:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise InvalidInput(error_message=f"'{value}' is not a valid IP address") from None


def first_host(net: IPNetwork) -> str:
    return str(net.network_address + 1)


def _usable(net: IPNetwork) -> tuple[int, int]:
    """First and last address a pool may hold (not the network or v4 broadcast)."""
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
    return first, last


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    first, last = _usable(net)
    ranges = [(first, last)]
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        ranges = [(a, b) for a, b in [(first, gw - 1), (gw + 1, last)] if a <= b]
    make = ipaddress.ip_address
    return [{"start": str(make(a)), "end": str(make(b))} for a, b in ranges]


def check_pools(net: IPNetwork, pools: Any, gateway: str | None) -> list[dict[str, str]]:
    """Requested pools, each inside the subnet, not overlapping, not holding the gateway."""
    if not isinstance(pools, list):
        raise InvalidInput(error_message=f"Invalid data format for IP pool: '{pools}'")
    first, last = _usable(net)
    seen: list[tuple[int, int]] = []
    for pool in pools:
        if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
            raise InvalidInput(error_message=f"Invalid data format for IP pool: '{pool}'")
        a, b = int(parse_ip(pool["start"])), int(parse_ip(pool["end"]))
        if not (first <= a <= b <= last):
            raise InvalidInput(
                error_message=f"The allocation pool {pool['start']}-{pool['end']} spans "
                f"beyond the subnet cidr {net}."
            )
        if any(a <= y and x <= b for x, y in seen):
            raise InvalidInput(error_message="Found overlapping allocation pools")
        if gateway is not None and a <= int(ipaddress.ip_address(gateway)) <= b:
            raise InvalidInput(
                error_message=f"Gateway ip {gateway} conflicts with allocation pool "
                f"{pool['start']}-{pool['end']}"
            )
        seen.append((a, b))
    return [{"start": p["start"], "end": p["end"]} for p in pools]


def in_pools(address: str, pools: list[dict[str, str]]) -> bool:
    value = int(ipaddress.ip_address(address))
    return any(
        int(ipaddress.ip_address(p["start"])) <= value <= int(ipaddress.ip_address(p["end"]))
        for p in pools
    )


def _free(pools: list[dict[str, str]], taken: set[str]) -> Iterator[str]:
    for pool in pools:
        start = ipaddress.ip_address(pool["start"])
        end = int(ipaddress.ip_address(pool["end"]))
        text = _ipv4_text if start.version == 4 else _ip_text
        for value in range(int(start), end + 1):
            address = text(value)
            if address not in taken:
                yield address


def _ipv4_text(value: int) -> str:
    """``str(IPv4Address(value))`` without building the address (a boot tries dozens)."""
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def _ip_text(value: int) -> str:
    return str(ipaddress.IPv6Address(value))


def pick_free(pools: list[dict[str, str]], taken: set[str]) -> str | None:
    """A random one of the first free addresses, or ``None`` when the pools are full."""
    free: list[str] = []
    for address in _free(pools, taken):
        free.append(address)
        if len(free) >= CANDIDATES:
            break
    return random.choice(free) if free else None


def new_mac() -> str:
    """A MAC in Neutron's default base ``fa:16:3e``."""
    return "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))
