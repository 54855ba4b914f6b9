"""Checking image attributes a client sets, as Glance's image schema does."""

from __future__ import annotations

import uuid
from typing import Any

from cumulo import exception
from cumulo.api.policy import enforce
from cumulo.context import RequestContext
from cumulo.image.errors import ReadOnlyAttribute, ReservedAttribute
from cumulo.image.views import (
    COLUMNS,
    CONTAINER_FORMATS,
    DISK_FORMATS,
    READ_ONLY,
    RESERVED,
    VISIBILITIES,
)

ENUMS = {
    "disk_format": DISK_FORMATS,
    "container_format": CONTAINER_FORMATS,
    "visibility": VISIBILITIES,
}


def schema_error(detail: str) -> exception.Invalid:
    return exception.Invalid(f"Provided object does not match schema 'image': {detail}")


def writable(name: str) -> None:
    """Refuse attributes nobody may set."""
    if name in RESERVED:
        raise ReservedAttribute(name=name)
    if name in READ_ONLY:
        raise ReadOnlyAttribute(name=name)


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def check_value(name: str, value: Any) -> Any:
    """``value`` if it suits attribute ``name``, else the schema's 400."""
    if name in ENUMS:
        allowed = ENUMS[name] + ([] if name == "visibility" else [None])
        if value not in allowed:
            raise schema_error(f"{value!r} is not one of {ENUMS[name]}")
    elif name in ("min_disk", "min_ram"):
        if not _is(value, int) or value < 0:
            raise schema_error(f"{value!r} is not a valid {name}")
    elif name in ("protected", "os_hidden"):
        if not _is(value, bool):
            raise schema_error(f"{value!r} is not of type 'boolean'")
    elif name == "tags":
        if not isinstance(value, list) or not all(_is(t, str) and len(t) <= 255 for t in value):
            raise schema_error(f"{value!r} is not a valid list of tags")
        return list(dict.fromkeys(value))
    elif name == "id":
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise schema_error(f"{value!r} is not a valid UUID") from None
    elif name in ("name", "owner"):
        if value is not None and (not _is(value, str) or len(value) > 255):
            raise schema_error(f"{value!r} is not of type 'string'")
    elif not _is(value, str):
        raise schema_error(f"{value!r} is not of type 'string'")
    return value


def check_privileged(ctx: RequestContext, name: str, value: Any) -> None:
    """Setting ``public`` visibility or another owner needs more than membership."""
    if name == "visibility" and value == "public":
        enforce(ctx, "image:publicize_image")
    if name == "owner" and value != ctx.project_id:
        enforce(ctx, "image:set_owner")


def split_create(ctx: RequestContext, body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A create request's column values and free-form properties."""
    if not isinstance(body, dict):
        raise schema_error(f"{body!r} is not of type 'object'")
    columns: dict[str, Any] = {}
    properties: dict[str, str] = {}
    for name, value in body.items():
        writable(name)
        checked = check_value(name, value)
        check_privileged(ctx, name, checked)
        (columns if name in COLUMNS else properties)[name] = checked
    return columns, properties
