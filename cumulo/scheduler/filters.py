"""Host filters: which nodes may take an instance. Nova's filters, by Nova's names.

Each filter says whether it applies to a request at all (``applies``), so a
request without a server group or host hints skips those filters for every
host, and the pass over thousands of hosts stays a few comparisons per host.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

from cumulo.scheduler.host_state import HostState, Resources
from cumulo.scheduler.request_spec import RequestSpec

AFFINITY = "affinity"
ANTI_AFFINITY = "anti-affinity"


class HostFilter(Protocol):
    name: str

    def applies(self, spec: RequestSpec) -> bool: ...

    def passes(self, host: HostState, spec: RequestSpec) -> bool: ...


class ComputeFilter:
    """The node's compute service is enabled and its heartbeat is recent."""

    name = "ComputeFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return True

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        return host.enabled and host.up


class AvailabilityZoneFilter:
    name = "AvailabilityZoneFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return spec.availability_zone is not None

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        return host.availability_zone == spec.availability_zone


class ImagePropertiesFilter:
    """The image's ``hw_architecture`` and ``img_hv_type``, when set, match the node."""

    name = "ImagePropertiesFilter"

    def applies(self, spec: RequestSpec) -> bool:
        props = spec.image_properties
        return bool(props.get("hw_architecture") or props.get("img_hv_type"))

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        arch = spec.image_properties.get("hw_architecture")
        hv_type = spec.image_properties.get("img_hv_type")
        if arch and str(arch).lower() != host.architecture.lower():
            return False
        return not hv_type or str(hv_type).lower() in _hypervisor_aliases(host.hypervisor_type)


def _hypervisor_aliases(hypervisor_type: str) -> set[str]:
    """A QEMU host runs both ``qemu`` and ``kvm`` images, as Nova's libvirt reports."""
    kind = hypervisor_type.lower()
    return {"qemu", "kvm"} if kind in ("qemu", "kvm") else {kind}


class ServerGroupAffinityFilter:
    """An ``affinity`` group's next member goes where the others are."""

    name = "ServerGroupAffinityFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return spec.group is not None and spec.group.policy == AFFINITY and bool(spec.group.hosts)

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        assert spec.group is not None
        return host.host in spec.group.hosts


class ServerGroupAntiAffinityFilter:
    """An ``anti-affinity`` group has at most ``max_server_per_host`` members on a host."""

    name = "ServerGroupAntiAffinityFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return spec.group is not None and spec.group.policy == ANTI_AFFINITY

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        assert spec.group is not None
        on_host = sum(1 for h in spec.group.hosts if h == host.host)
        return on_host < spec.group.max_server_per_host


class SameHostFilter:
    """``same_host`` hint: a node holding any of the named instances."""

    name = "SameHostFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return bool(spec.same_host)

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        return not host.instances.isdisjoint(spec.same_host)


class DifferentHostFilter:
    """``different_host`` hint: a node holding none of the named instances."""

    name = "DifferentHostFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return bool(spec.different_host)

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        return host.instances.isdisjoint(spec.different_host)


DEFAULT_FILTERS: tuple[HostFilter, ...] = (
    ComputeFilter(),
    AvailabilityZoneFilter(),
    ImagePropertiesFilter(),
    ServerGroupAntiAffinityFilter(),
    ServerGroupAffinityFilter(),
    SameHostFilter(),
    DifferentHostFilter(),
)


def forced(hosts: Iterable[HostState], spec: RequestSpec) -> list[HostState] | None:
    """The nodes a forced host/node names (filters are then skipped, as in Nova), or None."""
    if not spec.force_hosts and not spec.force_nodes:
        return None
    force_hosts, force_nodes = set(spec.force_hosts), set(spec.force_nodes)
    return [
        h
        for h in hosts
        if (not force_hosts or h.host in force_hosts)
        and (not force_nodes or h.nodename in force_nodes)
    ]


def filtered(
    hosts: Sequence[HostState],
    spec: RequestSpec,
    wanted: Resources,
    filters: Sequence[HostFilter] = DEFAULT_FILTERS,
) -> tuple[list[HostState], Counter[str]]:
    """The nodes that fit ``wanted`` and pass every filter that applies.

    Also returns how many nodes each filter removed, for the NoValidHost
    reason and the log (Nova logs the same per-filter counts).
    """
    ignore = set(spec.ignore_hosts)
    removed: Counter[str] = Counter()
    pinned = forced(hosts, spec)
    if pinned is not None:
        candidates = [h for h in pinned if h.host not in ignore and h.fits(wanted)]
        removed["forced host"] = len(hosts) - len(candidates)
        return candidates, removed
    active = [f for f in filters if f.applies(spec)]
    passing: list[HostState] = []
    for host in hosts:
        if host.host in ignore:
            removed["retry"] += 1
            continue
        if not host.fits(wanted):
            removed["resources"] += 1
            continue
        for host_filter in active:
            if not host_filter.passes(host, spec):
                removed[host_filter.name] += 1
                break
        else:
            passing.append(host)
    return passing, removed
