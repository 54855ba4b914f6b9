"""How ``os-services`` and ``os-hypervisors`` name their rows in URLs and bodies.

Before microversion 2.53 a service or hypervisor is its integer database id;
from 2.53 it is its uuid, so that ids stay unique across cells.
"""

from __future__ import annotations

import uuid

from cumulo.api.microversion import APIVersion

UUID_FOR_ID = APIVersion.parse("2.53")


def uses_uuids(version: APIVersion) -> bool:
    return version >= UUID_FOR_ID


def is_uuid_like(value: str) -> bool:
    """oslo.utils' test: any spelling ``uuid.UUID`` reads (braces, no dashes, a urn prefix)."""
    try:
        parsed = uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    plain = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
    return parsed.hex == plain


_MAX_ID = 2**31 - 1


def as_row_id(value: str) -> int | None:
    """``value`` as an integer row id, or None when no row can have it (not a number, or
    beyond the column's range: a lookup would fail, not miss, on PostgreSQL)."""
    try:
        number = int(value)
    except ValueError:
        return None
    return number if -_MAX_ID <= number <= _MAX_ID else None


def is_integer(value: str) -> bool:
    """oslo.utils' ``validate_integer`` without bounds: ``int(value)`` succeeds."""
    try:
        int(value)
    except ValueError:
        return False
    return True
