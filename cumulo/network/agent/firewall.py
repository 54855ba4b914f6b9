"""Security groups on a compute host: Neutron's iptables firewall for bridged tap ports.

Every guest NIC is a tap enslaved to a Linux bridge; with br_netfilter on, frames
crossing the bridge traverse iptables' FORWARD chain, where ``-m physdev`` names the
bridge port they enter (``--physdev-in``: egress from the guest) or leave by
(``--physdev-out``: ingress to the guest). The filter table of iptables and of
ip6tables gets the same layout::

    FORWARD ─▶ cumulo-FORWARD ─(physdev in/out of a filtered tap)─▶ cumulo-sg-chain
                              ─(tap with port security off)──────▶ ACCEPT
    cumulo-sg-chain ─(physdev-out tap)─▶ cumulo-i<port>   ingress to the guest
                    ─(physdev-in tap)──▶ cumulo-o<port>   egress from the guest
                    ─▶ ACCEPT
    cumulo-o<port>  ─▶ cumulo-s<port>   source (MAC, IP) anti-spoofing
    cumulo-i/o<port> RETURN what they allow and end in cumulo-sg-fallback (DROP)

A packet between two filtered guests of this host walks the sender's egress chain
and the receiver's ingress chain before the ACCEPT that ends cumulo-sg-chain.
ARP and source-MAC spoofing are stopped a layer lower, in ebtables (the nft
backend): nat PREROUTING ─▶ cumulo-PREROUTING ─(-i tap)─▶ cumulo-a<port>.

``apply`` is declarative: it gets every port of the host and, in one
``*-restore --noflush`` transaction per table (IPv4 filter, IPv6 filter, bridge
nat), rewrites the chains above whose rules differ from the saved ones and deletes
those of ports that are gone. Nothing else is touched but the one jump from the
built-in chain (FORWARD, PREROUTING), inserted first once.

Several firewalls (clouds side by side, tests in parallel) may share a namespace
if each has its own scope: a scope names its chains ``cumulo<scope>-FORWARD``,
``cumulo<scope>-i<port>``… (the empty scope, the names above) and owns only those
and its own jumps. A scope's top chains match only its own taps, so a packet of any
other tap returns to the built-in chain untouched. A packet between taps of two
scopes is decided by the scope jumped to first, whose sg-chain ends in ACCEPT:
scopes that must filter each other's traffic need separate bridges.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from cumulo.network.agent.firewall_rules import (
    BRIDGE_NETFILTER_SYSCTLS,
    IPV4,
    IPV6,
    ChainNames,
    FirewallError,
    FirewallRule,
    PortFilter,
    bridge_chains,
    chain_names,
    filter_chains,
)

__all__ = ["FirewallError", "FirewallRule", "IptablesFirewall", "PortFilter"]


@dataclass(frozen=True)
class _Table:
    """One table a scope owns chains in, and how its save/restore tools speak."""

    save: tuple[str, ...]
    restore: tuple[str, ...]
    name: str
    hook: str  # the built-in chain that jumps to the top chain
    top: str
    declare: str  # what follows ``:chain`` in a restore file
    owned: re.Pattern[str]  # the names of the scope's chains

    def present(self, saved: str) -> tuple[dict[str, list[str]], int]:
        """The scope's chains in ``saved`` with their rules, and the hook's jumps to the top."""
        chains: dict[str, list[str]] = {}
        hooks = 0
        hook_line = f"-A {self.hook} -j {self.top}"
        for line in saved.splitlines():
            if line.startswith(":cumulo"):
                name = line[1:].split(maxsplit=1)[0]
                if self.owned.fullmatch(name):
                    chains[name] = []
            elif line.startswith("-A cumulo"):
                name, _, rule = line[3:].partition(" ")
                if name in chains:
                    chains[name].append(rule)
            elif line == hook_line:
                hooks += 1
        return chains, hooks

    def script(self, chains: dict[str, list[str]], saved: str) -> str | None:
        """A restore file turning the ``saved`` state into ``chains`` (none: remove all).

        Chains whose saved rules already read as rendered are left alone, so an
        apply that changes one port rewrites a few chains, not the whole host.
        """
        present, hooks = self.present(saved)
        changed = [name for name, rules in chains.items() if present.get(name) != rules]
        stale = [name for name in present if name not in chains]
        wanted_hooks = 1 if chains else 0
        if not changed and not stale and hooks == wanted_hooks:
            return None
        lines = [f"*{self.name}"]
        lines += [f"-D {self.hook} -j {self.top}"] * max(hooks - wanted_hooks, 0)
        lines += [f":{name} {self.declare}" for name in [*changed, *stale]]
        lines += [f"-A {name} {rule}" for name in changed for rule in chains[name]]
        lines += [f"-X {name}" for name in stale]
        if wanted_hooks and not hooks:
            lines.append(f"-I {self.hook} 1 -j {self.top}")
        return "\n".join([*lines, "COMMIT", ""])


def _tables(names: ChainNames) -> tuple[_Table, _Table, _Table]:
    """The IPv4 filter, IPv6 filter and bridge nat tables as one scope sees them."""
    return (
        _Table(
            ("iptables-save", "-t", "filter"),
            ("iptables-restore", "--noflush"),
            "filter", "FORWARD", names.top, "- [0:0]", names.owned,
        ),
        _Table(
            ("ip6tables-save", "-t", "filter"),
            ("ip6tables-restore", "--noflush"),
            "filter", "FORWARD", names.top, "- [0:0]", names.owned,
        ),
        _Table(
            ("ebtables-save", "-t", "nat"),
            ("ebtables-restore", "--noflush"),
            "nat", "PREROUTING", names.bridge_top, "RETURN", names.owned,
        ),
    )  # fmt: skip


def _render(
    filters: Collection[PortFilter], names: ChainNames
) -> list[tuple[_Table, dict[str, list[str]]]]:
    """The desired chains of every table for these ports (pure; no system call)."""
    ports = sorted(filters, key=lambda port: port.port_id)
    _check_distinct(ports)
    ipv4, ipv6, bridge = _tables(names)
    return [
        (ipv4, filter_chains(IPV4, ports, names)),
        (ipv6, filter_chains(IPV6, ports, names)),
        (bridge, bridge_chains(ports, names)),
    ]


def _scripts(
    desired: list[tuple[_Table, dict[str, list[str]]]], saved: Sequence[str]
) -> list[tuple[_Table, str]]:
    """The restore files that turn each table's saved state into the desired one."""
    scripts = []
    for (table, chains), text in zip(desired, saved, strict=True):
        script = table.script(chains, text)
        if script is not None:
            scripts.append((table, script))
    return scripts


def _check_distinct(ports: Iterable[PortFilter]) -> None:
    seen: dict[str, str] = {}
    for port in ports:
        for key in (f"chain prefix {port.port_id[:10]}", f"device {port.device}"):
            if key in seen:
                raise FirewallError(f"ports {seen[key]} and {port.port_id} share {key}")
            seen[key] = port.port_id


class IptablesFirewall:
    """The security-group firewall of one scope in a network namespace (None: the current).

    ``scope`` (1-6 characters of [a-z0-9], or "" for the historical names) lets
    several firewalls share the namespace, each changing only its own chains.
    """

    def __init__(self, netns: str | None = None, scope: str = "") -> None:
        self.netns = netns
        self.scope = scope
        self._names = chain_names(scope)
        self._lock = asyncio.Lock()

    async def apply(self, filters: Collection[PortFilter]) -> None:
        """Make this scope's chains exactly those of ``filters``: all its ports, every time."""
        desired = await asyncio.to_thread(_render, filters, self._names)
        async with self._lock:
            await self._run(("sysctl", "-q", "-w", *BRIDGE_NETFILTER_SYSCTLS))
            await self._replace(desired)

    async def remove_all(self) -> None:
        """Delete this scope's chains and its jumps to them."""
        async with self._lock:
            await self._replace([(table, {}) for table in _tables(self._names)])

    async def _replace(self, desired: list[tuple[_Table, dict[str, list[str]]]]) -> None:
        saved = await asyncio.gather(*(self._run(table.save) for table, _ in desired))
        scripts = await asyncio.to_thread(_scripts, desired, saved)
        await asyncio.gather(*(self._run(table.restore, script) for table, script in scripts))

    async def _run(self, argv: Sequence[str], stdin: str | None = None) -> str:
        full = [*(("ip", "netns", "exec", self.netns) if self.netns else ()), *argv]
        process = await asyncio.create_subprocess_exec(
            *full,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate(stdin.encode() if stdin is not None else None)
        if process.returncode != 0:
            raise FirewallError(f"{' '.join(full)} failed ({process.returncode}): {err.decode()}")
        return out.decode()
