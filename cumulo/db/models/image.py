"""images (Glance v2): tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cumulo.db.base import Base, TimestampMixin, new_uuid


class ImageTag(Base):
    """One tag of one image: a row each, so a list filters on tags in SQL."""

    __tablename__ = "image_tags"
    __table_args__ = (UniqueConstraint("image_id", "value"), Index("ix_image_tags_value", "value"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(255))


class Image(TimestampMixin, Base):
    """One image; free-form properties are JSON on the row, tags rows of ``image_tags``.

    ``tags`` reads as a list of strings (in the order they were added); change
    it with ``append``/``remove`` rather than assigning a new list, so a tag
    kept is never deleted and re-inserted in one flush.
    """

    __tablename__ = "images"
    __table_args__ = (Index("ix_images_owner", "owner"), Index("ix_images_status", "status"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    status: Mapped[str] = mapped_column(String(30), default="queued")
    visibility: Mapped[str] = mapped_column(String(20), default="shared")
    disk_format: Mapped[str | None] = mapped_column(String(20), default=None)
    container_format: Mapped[str | None] = mapped_column(String(20), default=None)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    checksum: Mapped[str | None] = mapped_column(String(32), default=None)
    os_hash_algo: Mapped[str | None] = mapped_column(String(64), default=None)
    os_hash_value: Mapped[str | None] = mapped_column(String(128), default=None)
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(255), default=None)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    tag_rows: Mapped[list[ImageTag]] = relationship(
        cascade="all, delete-orphan",
        lazy="selectin",
        passive_deletes=True,
        order_by=ImageTag.id,
    )
    tags: AssociationProxy[list[str]] = association_proxy(
        "tag_rows", "value", creator=lambda value: ImageTag(value=value)
    )


class ImageMember(TimestampMixin, Base):
    __tablename__ = "image_members"
    __table_args__ = (UniqueConstraint("image_id", "member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(String(36), index=True)
    member: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="pending")
