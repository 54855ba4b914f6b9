"""Servers and what hangs off them: faults, actions and events, block devices, tags,
request specs, server groups (Nova's cell and API database tables, in one database).

An instance row is soft-deleted (``deleted`` = its id), as Nova keeps it, so
``os-instance-actions`` and ``changes-since`` listings still find it.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cumulo.db.base import Base, SoftDeleteMixin, Timestamp, TimestampMixin, utcnow, uuid_column


class Instance(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_project_id_deleted", "project_id", "deleted"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    project_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255))
    display_description: Mapped[str | None] = mapped_column(String(255), default=None)
    hostname: Mapped[str] = mapped_column(String(255))
    reservation_id: Mapped[str] = mapped_column(String(255), index=True)
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    image_ref: Mapped[str] = mapped_column(String(255), default="")
    """The image id, or "" for a server booted from a volume."""
    flavor_id: Mapped[str] = mapped_column(String(255))
    flavor: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The flavor as it was at boot: a later flavor change or delete does not touch it."""
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer)
    ephemeral_gb: Mapped[int] = mapped_column(Integer)
    vm_state: Mapped[str] = mapped_column(String(255))
    task_state: Mapped[str | None] = mapped_column(String(255), default=None)
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    node: Mapped[str | None] = mapped_column(String(255), default=None)
    availability_zone: Mapped[str | None] = mapped_column(String(255), default=None)
    pinned_availability_zone: Mapped[str | None] = mapped_column(String(255), default=None)
    key_name: Mapped[str | None] = mapped_column(String(255), default=None)
    key_data: Mapped[str | None] = mapped_column(Text, default=None)
    user_data: Mapped[str | None] = mapped_column(Text, default=None)
    config_drive: Mapped[str] = mapped_column(String(255), default="")
    meta: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    system_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    security_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    access_ip_v4: Mapped[str | None] = mapped_column(String(39), default=None)
    access_ip_v6: Mapped[str | None] = mapped_column(String(39), default=None)
    auto_disk_config: Mapped[bool] = mapped_column(Boolean, default=False)
    root_device_name: Mapped[str | None] = mapped_column(String(255), default=None)
    kernel_id: Mapped[str | None] = mapped_column(String(255), default=None)
    ramdisk_id: Mapped[str | None] = mapped_column(String(255), default=None)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_by: Mapped[str | None] = mapped_column(String(16), default=None)
    locked_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    launched_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)
    terminated_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)
    network_info: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The VIFs of ``cumulo.network.model.NetworkInfo``, cached as Nova's info cache."""


class InstanceTag(Base):
    __tablename__ = "tags"

    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(80), primary_key=True)


class InstanceFault(Base):
    __tablename__ = "instance_faults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    code: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(255))
    details: Mapped[str | None] = mapped_column(Text, default=None)
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class InstanceAction(TimestampMixin, Base):
    """One user-visible operation on a server (``create``, ``delete``), by request id."""

    __tablename__ = "instance_actions"
    __table_args__ = (
        Index("ix_instance_actions_instance_uuid_request_id", "instance_uuid", "request_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(255))
    instance_uuid: Mapped[str] = mapped_column(String(36))
    request_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255), default=None)
    project_id: Mapped[str | None] = mapped_column(String(255), default=None)
    start_time: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    finish_time: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)
    message: Mapped[str | None] = mapped_column(String(255), default=None)


class InstanceActionEvent(TimestampMixin, Base):
    """One step of an action (``compute__do_build_and_run_instance``) and how it ended."""

    __tablename__ = "instance_actions_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("instance_actions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    finish_time: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)
    result: Mapped[str | None] = mapped_column(String(255), default=None)
    traceback: Mapped[str | None] = mapped_column(Text, default=None)
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    details: Mapped[str | None] = mapped_column(Text, default=None)


class RequestSpecRecord(TimestampMixin, Base):
    """What the instance asked of the scheduler, kept for reschedules (Nova's ``request_specs``)."""

    __tablename__ = "request_specs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)


class BlockDeviceMapping(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "block_device_mapping"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = uuid_column()
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    source_type: Mapped[str] = mapped_column(String(255))
    destination_type: Mapped[str] = mapped_column(String(255))
    boot_index: Mapped[int | None] = mapped_column(Integer, default=None)
    device_name: Mapped[str | None] = mapped_column(String(255), default=None)
    device_type: Mapped[str | None] = mapped_column(String(255), default=None)
    disk_bus: Mapped[str | None] = mapped_column(String(255), default=None)
    guest_format: Mapped[str | None] = mapped_column(String(255), default=None)
    delete_on_termination: Mapped[bool] = mapped_column(Boolean, default=False)
    image_id: Mapped[str | None] = mapped_column(String(36), default=None)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), default=None)
    volume_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    volume_size: Mapped[int | None] = mapped_column(Integer, default=None)
    volume_type: Mapped[str | None] = mapped_column(String(255), default=None)
    no_device: Mapped[bool] = mapped_column(Boolean, default=False)
    tag: Mapped[str | None] = mapped_column(String(255), default=None)
    attachment_id: Mapped[str | None] = mapped_column(String(36), default=None)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ServerGroup(TimestampMixin, Base):
    __tablename__ = "instance_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(255))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    members: Mapped[list[ServerGroupMember]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", passive_deletes=True
    )


class ServerGroupMember(Base):
    __tablename__ = "instance_group_member"
    __table_args__ = (UniqueConstraint("instance_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("instance_groups.id", ondelete="CASCADE"), index=True
    )
    instance_uuid: Mapped[str] = mapped_column(String(36))


class ComputeQuotaLock(Base):
    """One row per project, locked while a server create counts and writes (see ``db.locks``)."""

    __tablename__ = "compute_quota_locks"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
