"""Declarative base and the column conventions every table follows."""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy import DateTime, Integer, MetaData, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names fixed by convention, so migrations are the same on every engine.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Microsecond timestamps everywhere; MySQL/MariaDB would otherwise keep whole seconds.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime.datetime:
    """Naive UTC, as OpenStack stores its timestamps."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def new_hex_id() -> str:
    """Keystone-style id: 32 hex digits."""
    return uuid.uuid4().hex


def new_uuid() -> str:
    """Nova-style id: a dashed UUID."""
    return str(uuid.uuid4())


class TimestampMixin:
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        Timestamp, default=None, onupdate=utcnow
    )


class SoftDeleteMixin:
    """Rows OpenStack still shows after deletion (servers) are only marked deleted.

    ``deleted`` is 0 while live and the row id once deleted, as Nova does, so a
    unique constraint that includes ``deleted`` lets a name be reused.
    """

    deleted: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, default=None)


def uuid_column(primary_key: bool = False) -> Mapped[str]:
    return mapped_column(String(36), primary_key=primary_key, default=new_uuid)
