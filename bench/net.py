"""The network data plane: port → DHCP-ready, rule change → enforcement, and the firewall
with 1 000 ports.

Everything happens in network namespaces this bench makes (random names, deleted at the
end, also on Ctrl-C or SIGTERM), with the agent's own modules used as ``data_plane.py``
uses them:

- **port → DHCP-ready**: a "host" namespace holds the network's bridge; the DHCP
  namespace is plugged into it (``plug_namespace_port``) and its dnsmasq runs. A new port
  is then the agent's work for a plug, timed stage by stage: a veth plugged into the
  bridge for a new "guest" namespace, with the port's MAC inside (standing in for the tap
  QEMU opens); the firewall applied with every port so far; the network served again
  (DHCP port ensured, ``Dnsmasq.reload`` with the new host). Then the guest runs
  ``busybox udhcpc -T 1``, and the clock stops when its NIC holds the port's IP (polled
  over netlink every 2 ms). Each run is one more port on the same network. The host side
  being a namespace here, each pyroute2 call on it opens its socket there (a fork, some
  7 ms) where the agent, in its own namespace, would not.
- **rule change → enforcement**: guests A and B of the above, A listening on a TCP port,
  B opening a new connection every 5 ms (each given up after 250 ms). From ``apply()``
  with an ingress rule for the port until a connection from B completes, and from
  ``apply()`` without it until the first connection that then fails was tried.
- **firewall at scale**: in a namespace of its own, ``apply()`` of 1 000 ports with 5
  rules each (egress anywhere over IPv4 and IPv6, ICMP in, TCP 22 in, anything in from
  a remote group of 3 members): fresh, again unchanged, with one port's rules changed,
  and ``remove_all``; and the rules of the scope in iptables-save, ip6tables-save and
  ebtables-save. These tools are iptables-nft: each rule is an nftables rule.

    .venv/bin/python bench/net.py [--runs 5] [--ports 1000] [--scale-runs 3]

Runs as root. Prints a table (median and max of the runs) and one ``CUMULO_BENCH_JSON``
line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import secrets
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from cumulo.network.agent import linux_net
from cumulo.network.agent.firewall import IptablesFirewall, PortFilter
from cumulo.network.model import devname

sys.path.insert(0, str(Path(__file__).resolve().parent))

from net_lab import (
    LEASE_WITHIN,
    LISTENER,
    MTU,
    PREFIX,
    PROBE_EVERY,
    PROBE_TIMEOUT,
    PROBE_WITHIN,
    PROBER,
    SAVE_TOOLS,
    TCP_PORT,
    AddressWatch,
    Guest,
    Lab,
    background,
    group_rules,
    in_ns,
    make_lab,
    namespace,
    run,
    spawn,
    stop,
    tcp_in,
)


async def new_port(lab: Lab, n: int) -> dict[str, float]:
    """One more port on the network, from the agent's plug until the guest holds its IP."""
    guest = Guest(
        namespace=await namespace(lab.stack, f"bn-{lab.tag}-g{n}"),  # the guest exists first
        port_id=str(uuid.uuid4()),
        mac=f"fa:16:3e:{lab.tag[:2]}:{lab.tag[2:]}:{n + 16:02x}",
        ip=f"{PREFIX}.{n + 10}",
    )
    async with AddressWatch(guest.namespace, guest.ip) as watch:
        marks = [time.monotonic()]
        await asyncio.to_thread(linux_net.ensure_bridge, lab.bridge, MTU, lab.host)
        await asyncio.to_thread(
            linux_net.plug_namespace_port,
            lab.bridge, guest.port_id, guest.namespace, guest.mac, [], MTU, lab.host,
        )  # fmt: skip
        marks.append(time.monotonic())
        lab.guests.append(guest)
        await lab.apply()
        marks.append(time.monotonic())
        await lab.plug_dhcp_port()
        marks.append(time.monotonic())
        await lab.dnsmasq.reload(lab.network())
        marks.append(time.monotonic())
        dhcp_client = ["udhcpc", "-i", guest.nic, "-f", "-q", "-n", "-t", "5", "-T", "1"]
        udhcpc = await spawn(
            lab.stack,
            in_ns(guest.namespace, "busybox", *dhcp_client, "-s", str(lab.udhcpc_script)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        held = await watch.seen()
    await stop(udhcpc)
    if held is None:
        log = await asyncio.to_thread(lab.dnsmasq.log_path.read_text)
        raise RuntimeError(f"{guest.ip} not leased in {LEASE_WITHIN} s; dnsmasq: {log[-500:]}")
    start, plugged, applied, ensured, served = marks
    return {
        "plug": plugged - start,
        "firewall_apply": applied - plugged,
        "dhcp_port": ensured - applied,
        "dnsmasq_reload": served - ensured,
        "agent": served - start,
        "lease": held - served,
        "whole": held - start,
    }


# --- 2. rule change → enforcement ------------------------------------------------------------


class Prober:
    """B's connection attempts to A's listener, run in B's namespace on request."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def until(self, mode: str) -> float | None:
        """Until connections open (the moment one completed) or close (the moment the
        first one that failed was tried)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{mode}\n".encode())
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), PROBE_WITHIN + 5)
        text = line.decode().strip()
        return None if text in ("None", "") else float(text)


async def rule_round(lab: Lab, prober: Prober, a: Guest) -> dict[str, float]:
    """apply() with A's TCP rule until B connects, and without it until B cannot."""
    figures: dict[str, float] = {}
    for mode, extra in (("open", (tcp_in(TCP_PORT),)), ("close", ())):
        asked = asyncio.ensure_future(prober.until("open" if extra else "closed"))
        start = time.monotonic()
        await lab.apply({a.port_id: extra})
        figures[f"apply_{mode}"] = time.monotonic() - start
        seen = await asked
        if seen is None:
            raise RuntimeError(f"connections to {a.ip}:{TCP_PORT} did not {mode} in time")
        figures[mode] = seen - start
    return figures


async def rule_rounds(lab: Lab, runs: int) -> list[dict[str, float]]:
    a, b = lab.guests[0], lab.guests[1]
    await background(lab.stack, in_ns(a.namespace, sys.executable, "-c", LISTENER, str(TCP_PORT)))
    probe = [b.namespace, sys.executable, "-c", PROBER, a.ip, str(TCP_PORT)]
    timing = [str(PROBE_EVERY), str(PROBE_TIMEOUT), str(PROBE_WITHIN)]
    prober = Prober(await background(lab.stack, in_ns(*probe, *timing)))
    await lab.apply()
    if await prober.until("closed") is None:
        raise RuntimeError(f"B reaches {a.ip}:{TCP_PORT} with no rule allowing it")
    await rule_round(lab, prober, a)  # warm-up: B's ARP entry for A, the probes' first run
    return [await rule_round(lab, prober, a) for _ in range(runs)]


# --- 3. firewall at scale --------------------------------------------------------------------


def scale_filters(ports: int) -> list[PortFilter]:
    ids = [str(uuid.uuid4()) for _ in range(ports)]
    ips = [f"10.1.{n >> 8}.{n & 255}" for n in range(ports)]
    members = tuple(ips[:3])
    return [
        PortFilter(
            ids[n],
            devname(ids[n]),
            f"fa:16:3e:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}",
            (ips[n],),
            rules=group_rules(members),
        )
        for n in range(ports)
    ]


async def rule_counts(netns: str, scope: str) -> dict[str, dict[str, int]]:
    """The scope's rules (the hook's jump included) and chains in each save tool's output."""
    own = f"cumulo{scope}-"
    counts = {}
    for tool in SAVE_TOOLS:
        lines = (await run(*in_ns(netns, tool))).splitlines()
        counts[tool.removesuffix("-save")] = {
            "rules": sum(1 for line in lines if line.startswith("-A ") and own in line),
            "chains": sum(1 for line in lines if line.startswith(f":{own}")),
        }
    return counts


async def timed(work: Awaitable[None]) -> float:
    start = time.monotonic()
    await work
    return time.monotonic() - start


async def firewall_at_scale(
    stack: AsyncExitStack, tag: str, ports: int, runs: int
) -> tuple[dict[str, list[float]], dict[str, dict[str, int]]]:
    netns = await namespace(stack, f"bn-{tag}-scale")
    firewall = IptablesFirewall(netns, scope=f"bn{tag}")
    filters = scale_filters(ports)
    middle = filters[ports // 2]
    changed = list(filters)
    changed[ports // 2] = dataclasses.replace(middle, rules=(*middle.rules, tcp_in(80)))
    times: dict[str, list[float]] = {"fresh": [], "unchanged": [], "one_port": [], "remove": []}
    counts: dict[str, dict[str, int]] = {}
    for _ in range(runs):
        times["fresh"].append(await timed(firewall.apply(filters)))
        counts = counts or await rule_counts(netns, firewall.scope)
        times["unchanged"].append(await timed(firewall.apply(filters)))
        times["one_port"].append(await timed(firewall.apply(changed)))
        times["remove"].append(await timed(firewall.remove_all()))
    return times, counts


# --- run and report --------------------------------------------------------------------------


def spread(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"median": round(statistics.median(ms), 1), "max": round(max(ms), 1)}


def spreads(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {key: spread([r[key] for r in runs]) for key in runs[0]}


def cancel_on_sigterm() -> None:
    """SIGTERM cancels the run, so that its clean-up runs as on Ctrl-C.

    Not ``loop.add_signal_handler``: its wakeup fd is shared with the children pyroute2
    forks and stops with SIGTERM, whose signals would reach this loop. Such a child,
    which inherits this handler, just exits.
    """
    task = asyncio.current_task()
    assert task is not None
    loop, pid = asyncio.get_running_loop(), os.getpid()

    def cancel(signum: int, frame: object) -> None:
        if os.getpid() != pid:
            os._exit(128 + signum)
        loop.call_soon_threadsafe(task.cancel)

    signal.signal(signal.SIGTERM, cancel)


async def measure(runs: int, ports: int, scale_runs: int) -> dict[str, Any]:
    cancel_on_sigterm()
    tag = secrets.token_hex(2)
    began = time.monotonic()
    async with AsyncExitStack() as stack:
        lab = await make_lab(stack, tag)
        ready = [await new_port(lab, n) for n in range(max(runs, 2))]
        rounds = await rule_rounds(lab, runs)
        times, counts = await firewall_at_scale(stack, tag, ports, scale_runs)
    total = sum(table["rules"] for table in counts.values())
    return {
        "bench": "net",
        "port_to_dhcp_ready_ms": {"runs": len(ready), **spreads(ready)},
        "rule_to_enforcement_ms": {
            "runs": runs,
            "probe_every_ms": PROBE_EVERY * 1000,
            **spreads(rounds),
        },
        "firewall_at_scale": {
            "ports": ports,
            "rules_per_port": len(group_rules(())),
            "runs": scale_runs,
            **{f"{key}_ms": spread(values) for key, values in times.items()},
            "rules_nft_backend": {**counts, "total": total},
        },
        "seconds": round(time.monotonic() - began, 1),
    }


def report(results: dict[str, Any]) -> None:
    def row(label: str, figure: dict[str, float]) -> None:
        print(f"  {label:<52}{figure['median']:>10}{figure['max']:>10}")

    ready, rounds = results["port_to_dhcp_ready_ms"], results["rule_to_enforcement_ms"]
    scale = results["firewall_at_scale"]
    print(f"{'':<54}{'median ms':>10}{'max ms':>10}")
    print(f"port → DHCP-ready ({ready['runs']} new ports on one network)")
    row("agent: veth plugged into the bridge", ready["plug"])
    row("agent: firewall apply (every port so far)", ready["firewall_apply"])
    row("agent: DHCP port ensured (already plugged)", ready["dhcp_port"])
    row("agent: dnsmasq reload with the new host", ready["dnsmasq_reload"])
    row("agent total", ready["agent"])
    row("guest: udhcpc started → holds its IP", ready["lease"])
    row("whole", ready["whole"])
    print(f"rule change → enforcement ({rounds['runs']} rounds, a connection tried every "
          f"{rounds['probe_every_ms']:g} ms)")  # fmt: skip
    row(f"apply() with tcp {TCP_PORT} in", rounds["apply_open"])
    row("apply() → a connection from B completes", rounds["open"])
    row(f"apply() without tcp {TCP_PORT} in", rounds["apply_close"])
    row("apply() → the first failing connection was tried", rounds["close"])
    print(f"firewall, {scale['ports']} ports with {scale['rules_per_port']} rules "
          f"({scale['runs']} runs)")  # fmt: skip
    row("fresh apply()", scale["fresh_ms"])
    row("apply() unchanged", scale["unchanged_ms"])
    row("apply() with one port's rules changed", scale["one_port_ms"])
    row("remove_all()", scale["remove_ms"])
    rules = scale["rules_nft_backend"]
    print("  rules (nft backend): " + ", ".join(
        f"{tool} {rules[tool]['rules']} in {rules[tool]['chains']} chains"
        for tool in ("iptables", "ip6tables", "ebtables")
    ) + f"; total {rules['total']}")  # fmt: skip
    print(f"({results['seconds']} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="new ports, and rule rounds")
    parser.add_argument("--ports", type=int, default=1000, help="ports of the scale figure")
    parser.add_argument("--scale-runs", type=int, default=3)
    args = parser.parse_args()
    try:
        results = asyncio.run(measure(args.runs, args.ports, args.scale_runs))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; everything the bench made is removed", file=sys.stderr)
        sys.exit(130)
    report(results)
    print("CUMULO_BENCH_JSON " + json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
