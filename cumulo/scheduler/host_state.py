"""What the scheduler knows of one compute node: capacity, usage, placement of instances.

A ``HostState`` is a snapshot. The scheduler decides on snapshots and then
claims in the database with a conditional update, so a stale snapshot can
only cost a failed claim (the next weighed host is tried), never an
overcommitted host.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Resources:
    """One request's (or one instance's) claim on a node."""

    vcpus: int
    memory_mb: int
    disk_gb: int

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.vcpus + other.vcpus,
            self.memory_mb + other.memory_mb,
            self.disk_gb + other.disk_gb,
        )


@dataclass(slots=True)
class HostState:
    host: str
    nodename: str
    node_uuid: str
    availability_zone: str
    total: Resources
    reserved: Resources
    used: Resources
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    enabled: bool = True
    up: bool = True
    failed_builds: int = 0
    instances: set[str] = field(default_factory=set)
    """Uuids of instances on this node that the request names (``same_host``/``different_host``
    hints, server group members); loaded only for such a request."""
    hypervisor_type: str = "QEMU"
    architecture: str = "x86_64"
    aggregate_metadata: dict[str, set[str]] = field(default_factory=dict)

    @property
    def free_vcpus(self) -> float:
        capacity = (self.total.vcpus - self.reserved.vcpus) * self.cpu_allocation_ratio
        return capacity - self.used.vcpus

    @property
    def free_ram_mb(self) -> float:
        capacity = (self.total.memory_mb - self.reserved.memory_mb) * self.ram_allocation_ratio
        return capacity - self.used.memory_mb

    @property
    def free_disk_gb(self) -> float:
        capacity = (self.total.disk_gb - self.reserved.disk_gb) * self.disk_allocation_ratio
        return capacity - self.used.disk_gb

    def fits(self, wanted: Resources) -> bool:
        """Placement's capacity rule: ``(total - reserved) * ratio >= used + wanted``, for each
        resource asked for (a zero amount fits even an overcommitted node, as in Placement)."""
        return (
            (not wanted.vcpus or wanted.vcpus <= self.free_vcpus)
            and (not wanted.memory_mb or wanted.memory_mb <= self.free_ram_mb)
            and (not wanted.disk_gb or wanted.disk_gb <= self.free_disk_gb)
        )

    def consume(self, wanted: Resources, instance_uuid: str) -> None:
        """Account a claim made for ``instance_uuid`` so later picks in this request see it."""
        self.used = self.used + wanted
        self.instances.add(instance_uuid)
