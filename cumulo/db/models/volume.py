"""volumes, attachments, volume types and volume quotas (Cinder v3): tables.

A volume's metadata and the image metadata it was made from are JSON columns:
they are only read and written whole. ``volume_quota_locks`` holds one row per
project that has ever created a volume; a create or extend takes that row's
lock first (``UPDATE … SET generation = generation + 1``), so two requests of
one project check their quota one after the other on every engine.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cumulo.db.base import Base, Timestamp, TimestampMixin, uuid_column


class VolumeType(TimestampMixin, Base):
    __tablename__ = "volume_types"

    id: Mapped[str] = uuid_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class Volume(TimestampMixin, Base):
    __tablename__ = "volumes"

    id: Mapped[str] = uuid_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    attach_status: Mapped[str] = mapped_column(String(32), default="detached")
    availability_zone: Mapped[str] = mapped_column(String(255))
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"))
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    image_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    disk_format: Mapped[str] = mapped_column(String(16))
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    path: Mapped[str | None] = mapped_column(String(1024), default=None)
    launched_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)

    volume_type: Mapped[VolumeType] = relationship(lazy="joined")
    attachments: Mapped[list[VolumeAttachment]] = relationship(
        lazy="selectin", order_by="VolumeAttachment.created_at", viewonly=True
    )


class VolumeAttachment(TimestampMixin, Base):
    __tablename__ = "volume_attachments"

    id: Mapped[str] = uuid_column(primary_key=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id", ondelete="CASCADE"), index=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    attach_status: Mapped[str] = mapped_column(String(32))
    attach_mode: Mapped[str] = mapped_column(String(8), default="rw")
    connector: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    attached_host: Mapped[str | None] = mapped_column(String(255), default=None)
    mountpoint: Mapped[str | None] = mapped_column(String(255), default=None)
    attach_time: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)
    detach_time: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)


class VolumeQuota(TimestampMixin, Base):
    """A project's own limit for one volume resource, overriding the configured default."""

    __tablename__ = "volume_quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)


class VolumeQuotaLock(Base):
    """The row a project's quota-checked writes lock, so they take turns."""

    __tablename__ = "volume_quota_locks"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
