"""Hypervisor bodies, shaped by the request's microversion.

2.28 turns ``cpu_info`` from a JSON string into an object; 2.53 shows uuids
for the node and its service; 2.75 always shows ``servers`` when asked for;
2.88 drops the resource fields (Placement has them) and adds ``uptime``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cumulo.api.microversion import APIVersion
from cumulo.compute.hypervisors.db import NodeUsage
from cumulo.compute.services.ids import uses_uuids
from cumulo.db.models.hosts import ComputeNode, ComputeService
from cumulo.db.models.instances import Instance

V2_28 = APIVersion.parse("2.28")
V2_75 = APIVersion.parse("2.75")
V2_88 = APIVersion.parse("2.88")

STATISTICS = (
    "count", "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used",
    "free_ram_mb", "free_disk_gb", "current_workload", "running_vms", "disk_available_least",
)  # fmt: skip


@dataclass(frozen=True)
class Hypervisor:
    """A compute node with its host's service, whether that is up, and what runs on it."""

    node: ComputeNode
    service: ComputeService
    up: bool
    usage: NodeUsage = field(default_factory=NodeUsage)
    servers: list[Instance] | None = None
    """The host's servers when the request asked for them, else None."""


def instance_name(instance: Instance) -> str:
    """Nova's default ``instance_name_template``: the hypervisor's name for the guest."""
    return f"instance-{instance.id:08x}"


def resources(node: ComputeNode, usage: NodeUsage) -> dict[str, int]:
    """The resource fields of a node (shown before 2.88, summed by the statistics)."""
    free_disk_gb = node.local_gb - node.used_disk_gb
    return {
        "vcpus": node.vcpus,
        "memory_mb": node.memory_mb,
        "local_gb": node.local_gb,
        "vcpus_used": node.used_vcpus,
        "memory_mb_used": node.used_memory_mb,
        "local_gb_used": node.used_disk_gb,
        "free_ram_mb": node.memory_mb - node.used_memory_mb,
        "free_disk_gb": free_disk_gb,
        "current_workload": usage.current_workload,
        "running_vms": usage.running_vms,
        # The drivers report no measured free disk; the unclaimed disk stands in for it.
        "disk_available_least": free_disk_gb,
    }


def brief(hv: Hypervisor, version: APIVersion, with_servers: bool = False) -> dict[str, Any]:
    """``GET /os-hypervisors``: id, hostname, state, status (and the servers if asked)."""
    body: dict[str, Any] = {
        "id": hv.node.uuid if uses_uuids(version) else hv.node.id,
        "hypervisor_hostname": hv.node.hypervisor_hostname,
        "state": "up" if hv.up else "down",
        "status": "disabled" if hv.service.disabled else "enabled",
    }
    if hv.servers:
        body["servers"] = [{"name": instance_name(i), "uuid": i.uuid} for i in hv.servers]
    elif with_servers and version >= V2_75:
        body["servers"] = []
    return body


def detail(hv: Hypervisor, version: APIVersion, with_servers: bool = False) -> dict[str, Any]:
    """``GET /os-hypervisors/detail`` and ``/{id}``."""
    body = brief(hv, version, with_servers)
    body.update(
        hypervisor_type=hv.node.hypervisor_type,
        hypervisor_version=hv.node.hypervisor_version,
        host_ip=hv.node.host_ip,
        service={
            "id": hv.service.uuid if uses_uuids(version) else hv.service.id,
            "host": hv.node.host,
            "disabled_reason": hv.service.disabled_reason,
        },
    )
    if version >= V2_88:
        body["uptime"] = None  # no driver reports its host's uptime
        return body
    body.update(resources(hv.node, hv.usage))
    body["cpu_info"] = hv.node.cpu_info if version < V2_28 else _cpu_info(hv.node.cpu_info)
    return body


def _cpu_info(text: str | None) -> Any:
    return json.loads(text) if text else {}


def statistics(nodes: list[tuple[ComputeNode, NodeUsage]]) -> dict[str, int]:
    """The sums of the resource fields over ``nodes``, and their count."""
    totals = dict.fromkeys(STATISTICS, 0)
    totals["count"] = len(nodes)
    for node, usage in nodes:
        for name, value in resources(node, usage).items():
            totals[name] += value
    return totals
