"""Compute hosts as the scheduler sees them: services, nodes and the resources claimed on them.

A ``ComputeNode`` row is Nova's compute node and Placement's resource provider
in one: the inventory the host reports (``vcpus``, ``memory_mb``, ``local_gb``
with ``reserved_*`` and allocation ratios) and the usage claimed against it
(``used_*``). A claim is one conditional ``UPDATE`` of the ``used_*`` columns
plus an ``Allocation`` row per resource class, in one transaction, so the sum
of a node's allocations always equals its usage (``cumulo.scheduler.claims``).
"""

from __future__ import annotations

import datetime

from sqlalchemy import Boolean, Double, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, Timestamp, TimestampMixin, utcnow, uuid_column


class ComputeService(TimestampMixin, Base):
    """One service process on one host (``nova-compute`` on ``compute-1``), with its heartbeat."""

    __tablename__ = "compute_services"
    __table_args__ = (UniqueConstraint("host", "binary"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = uuid_column()
    host: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_up: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ComputeNode(TimestampMixin, Base):
    __tablename__ = "compute_nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    host: Mapped[str] = mapped_column(String(255), index=True)
    hypervisor_hostname: Mapped[str] = mapped_column(String(255), unique=True)
    hypervisor_type: Mapped[str] = mapped_column(String(255), default="fake")
    hypervisor_version: Mapped[int] = mapped_column(Integer, default=1000)
    host_ip: Mapped[str] = mapped_column(String(64), default="127.0.0.1")
    cpu_info: Mapped[str] = mapped_column(Text, default="{}")
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    local_gb: Mapped[int] = mapped_column(Integer)
    reserved_vcpus: Mapped[int] = mapped_column(Integer, default=0)
    reserved_memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    reserved_disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    cpu_allocation_ratio: Mapped[float] = mapped_column(Double, default=4.0)
    ram_allocation_ratio: Mapped[float] = mapped_column(Double, default=1.0)
    disk_allocation_ratio: Mapped[float] = mapped_column(Double, default=1.0)
    used_vcpus: Mapped[int] = mapped_column(Integer, default=0)
    used_memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    used_disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by every claim and release, as a resource provider's generation."""
    failed_builds: Mapped[int] = mapped_column(Integer, default=0)
    """Builds that failed here since the last success (the BuildFailureWeigher's input)."""


class Allocation(Base):
    """What one consumer (an instance) holds of one resource class on one node."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("consumer_id", "node_uuid", "resource_class"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consumer_id: Mapped[str] = mapped_column(String(36), index=True)
    node_uuid: Mapped[str] = mapped_column(String(36), index=True)
    resource_class: Mapped[str] = mapped_column(String(32))
    used: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
