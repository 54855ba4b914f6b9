"""Request bodies of the volume API, checked as Cinder's JSON schemas check them.

Each ``parse_*`` takes the decoded JSON and returns a small typed request, or
raises ``SchemaValidationError`` worded as Cinder's validator words it
("Invalid input for field/attribute size. Value: 0. 0 is less than the
minimum of 1"). Cinder accepts unknown keys inside ``volume`` and null for
every optional field (the ``openstack`` CLI sends nulls), and so do these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from cumulo.api.validation import SchemaValidationError

MAX_INT = 0x7FFFFFFF
_DIGITS = re.compile(r"^[0-9]+$")


def fail(name: str, value: Any, detail: str) -> NoReturn:
    raise SchemaValidationError(name, value, detail)


def require_object(body: Any, key: str) -> dict[str, Any]:
    """``body[key]``: a JSON object, as every Cinder request wraps its resource."""
    if not isinstance(body, dict):
        fail("body", body, f"{body!r} is not of type 'object'")
    if key not in body:
        fail(key, body, f"'{key}' is a required property")
    inner = body[key]
    if not isinstance(inner, dict):
        fail(key, inner, f"{inner!r} is not of type 'object'")
    return inner


def size_value(name: str, value: Any, *, nullable: bool = True) -> int | None:
    """Cinder's ``volume_size``: an integer or a string of digits, 1 up to MAX_INT."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        types = "'integer', 'string', 'null'" if nullable else "'integer', 'string'"
        fail(name, value, f"{value!r} is not of type {types}")
    if isinstance(value, str) and not _DIGITS.match(value):
        fail(name, value, f"{value!r} does not match '^[0-9]+$'")
    number = int(value)
    if number < 1:
        fail(name, value, f"{number!r} is less than the minimum of 1")
    if number > MAX_INT:
        fail(name, value, f"{number!r} is greater than the maximum of {MAX_INT}")
    return number


def optional_string(name: str, value: Any, max_length: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        fail(name, value, f"{value!r} is not of type 'string', 'null'")
    if len(value) > max_length:
        fail(name, value, f"{value!r} is too long")
    return value


def metadata(name: str, value: Any) -> dict[str, str]:
    """Cinder's ``metadata_allows_null``: string keys of 1-255 and values up to 255."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(name, value, f"{value!r} is not of type 'object', 'null'")
    for key, item in value.items():
        if not 1 <= len(key) <= 255:
            fail(
                name,
                value,
                f"{key!r} does not match any of the regexes: '^[a-zA-Z0-9-_:. /]{{1,255}}$'",
            )
        if not isinstance(item, str):
            fail(name, item, f"{item!r} is not of type 'string'")
        if len(item) > 255:
            fail(name, item, f"{item!r} is too long")
    return dict(value)


def boolean(name: str, value: Any) -> bool:
    """Cinder's ``boolean``: JSON booleans and the usual strings for them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "t", "1", "on", "y", "yes"):
            return True
        if lowered in ("false", "f", "0", "off", "n", "no"):
            return False
    choices = "[True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', 'y', 't', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no', 'n', 'f']"  # noqa: E501
    fail(name, value, f"{value!r} is not one of {choices}")


@dataclass(frozen=True)
class CreateVolume:
    size: int | None
    name: str | None = None
    description: str | None = None
    image_ref: str | None = None
    volume_type: str | None = None
    availability_zone: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    multiattach: bool = False


_UNSUPPORTED_SOURCES = ("snapshot_id", "source_volid", "backup_id", "group_id")


def parse_create(body: Any) -> CreateVolume:
    volume = require_object(body, "volume")
    image_ref = volume.get("imageRef", volume.get("image_id"))
    if image_ref is not None and not isinstance(image_ref, str):
        fail("imageRef", image_ref, f"{image_ref!r} is not of type 'string', 'null'")
    multiattach = volume.get("multiattach")
    return CreateVolume(
        size=size_value("size", volume.get("size")),
        name=optional_string("name", volume.get("name", volume.get("display_name"))),
        description=optional_string(
            "description", volume.get("description", volume.get("display_description"))
        ),
        image_ref=image_ref,
        volume_type=optional_string("volume_type", volume.get("volume_type")),
        availability_zone=optional_string("availability_zone", volume.get("availability_zone")),
        metadata=metadata("metadata", volume.get("metadata")),
        multiattach=False if multiattach is None else boolean("multiattach", multiattach),
    )


def unsupported_sources(body: dict[str, Any]) -> list[str]:
    """The volume sources cumulo does not offer (snapshots, clones, backups, groups) asked for."""
    volume = body.get("volume") or {}
    return [key for key in _UNSUPPORTED_SOURCES if volume.get(key) is not None]


@dataclass(frozen=True)
class UpdateVolume:
    changes: dict[str, Any]


def parse_update(body: Any) -> UpdateVolume:
    volume = require_object(body, "volume")
    changes: dict[str, Any] = {}
    for key, column in (
        ("name", "name"),
        ("display_name", "name"),
        ("description", "description"),
        ("display_description", "description"),
    ):
        if key in volume:
            changes[column] = optional_string(key, volume[key])
    if "metadata" in volume:
        changes["metadata_"] = metadata("metadata", volume["metadata"])
    if not changes:
        fail("volume", volume, f"{volume!r} should be non-empty")
    return UpdateVolume(changes)
