"""Host weighers: which of the passing nodes is best. Nova's weighers and multipliers.

Each weigher gives every node a raw value; the values are normalised to
[0, 1] across the candidates (min-max, as Nova's ``normalize``) and scaled
by the weigher's multiplier; a node's weight is the sum. The build-failure
weigher (raw value: minus the recent failures, as Nova's) has a huge
multiplier, so one recent failure outweighs everything else.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cumulo.config import SchedulerSettings
from cumulo.scheduler.host_state import HostState
from cumulo.scheduler.request_spec import RequestSpec

SOFT_AFFINITY = "soft-affinity"
SOFT_ANTI_AFFINITY = "soft-anti-affinity"


@dataclass(frozen=True)
class Weigher:
    name: str
    multiplier: float
    raw: Callable[[HostState, RequestSpec], float]
    applies: Callable[[RequestSpec], bool] = lambda _spec: True


def _group_members_on(host: HostState, spec: RequestSpec) -> float:
    assert spec.group is not None
    return float(sum(1 for h in spec.group.hosts if h == host.host))


def _in_group(policy: str) -> Callable[[RequestSpec], bool]:
    return lambda spec: spec.group is not None and spec.group.policy == policy


DEFAULT_WEIGHERS: tuple[Weigher, ...] = (
    Weigher("RAMWeigher", 1.0, lambda h, _s: h.free_ram_mb),
    Weigher("CPUWeigher", 1.0, lambda h, _s: h.free_vcpus),
    Weigher("DiskWeigher", 1.0, lambda h, _s: h.free_disk_gb),
    Weigher("BuildFailureWeigher", 1_000_000.0, lambda h, _s: -float(h.failed_builds)),
    Weigher("ServerGroupSoftAffinityWeigher", 1.0, _group_members_on, _in_group(SOFT_AFFINITY)),
    Weigher(
        "ServerGroupSoftAntiAffinityWeigher",
        -1.0,
        _group_members_on,
        _in_group(SOFT_ANTI_AFFINITY),
    ),
)


def configured(settings: SchedulerSettings) -> tuple[Weigher, ...]:
    """The default weighers with the multipliers of ``[scheduler]`` (Nova's ``*_multiplier``)."""
    multipliers = {
        "RAMWeigher": settings.ram_weight_multiplier,
        "CPUWeigher": settings.cpu_weight_multiplier,
        "DiskWeigher": settings.disk_weight_multiplier,
        "BuildFailureWeigher": settings.build_failure_weight_multiplier,
    }
    return tuple(
        replace(w, multiplier=multipliers.get(w.name, w.multiplier)) for w in DEFAULT_WEIGHERS
    )


def weighed(
    hosts: Sequence[HostState],
    spec: RequestSpec,
    weighers: Sequence[Weigher] = DEFAULT_WEIGHERS,
) -> list[tuple[float, HostState]]:
    """``hosts`` with their weights, best first (ties keep the order of ``hosts``)."""
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        if not weigher.multiplier or not weigher.applies(spec):
            continue
        raw = weigher.raw
        values = [raw(h, spec) for h in hosts]
        low, high = min(values, default=0.0), max(values, default=0.0)
        if high == low:
            continue
        scale = weigher.multiplier / (high - low)
        totals = [
            total + (value - low) * scale for total, value in zip(totals, values, strict=True)
        ]
    order = sorted(range(len(hosts)), key=totals.__getitem__, reverse=True)
    return [(totals[i], hosts[i]) for i in order]


def ranked(
    hosts: Sequence[HostState],
    spec: RequestSpec,
    host_subset_size: int = 1,
    rng: random.Random | None = None,
    weighers: Sequence[Weigher] = DEFAULT_WEIGHERS,
) -> list[HostState]:
    """The hosts in the order to try them: the best first, picked at random among the
    top ``host_subset_size`` (Nova's way to spread concurrent schedulers apart)."""
    order = [host for _weight, host in weighed(hosts, spec, weighers)]
    if host_subset_size > 1 and len(order) > 1:
        top = min(host_subset_size, len(order))
        pick = (rng or random).randrange(top)
        order.insert(0, order.pop(pick))
    return order
