"""What ``GET /servers`` and ``PUT /servers/{id}`` accept, as Nova's ``schemas/servers.py`` says.

The list query schema grew by microversion (``query_params_v21`` → ``v226``
tags → ``v266`` changes-before → ``v273`` locked → ``v275`` strict, with only
the valid sort keys). Before 2.75 an unknown parameter is dropped, and a sort
key Nova once accepted but never honoured (``SERVER_LIST_IGNORE_SORT_KEY``) is
silently ignored; from 2.75 both are a 400. Parameters starting with ``_``
pass the schema at every version (its ``patternProperties``) so that the
handler can refuse them by name.

``PUT /servers/{id}`` takes ``name``, ``OS-DCF:diskConfig`` and the access
IPs, plus ``description`` from 2.19 and ``hostname`` from 2.90 (an FQDN from
2.94).
"""

from __future__ import annotations

import datetime
import re
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from starlette.requests import Request

from cumulo.api.microversion import APIVersion
from cumulo.compute import query
from cumulo.compute.servers.schemas import Description, IPv4, IPv6
from cumulo.compute.servers.schemas import Hostname as Fqdn
from cumulo.compute.validation import Name, check_pattern, enum, fail, string

V2_26 = APIVersion.parse("2.26")
V2_66 = APIVersion.parse("2.66")
V2_73 = APIVersion.parse("2.73")
V2_75 = APIVersion.parse("2.75")
V2_19 = APIVersion.parse("2.19")
V2_90 = APIVersion.parse("2.90")
V2_94 = APIVersion.parse("2.94")

# --- GET /servers ------------------------------------------------------------------------

SORT_KEYS = (
    "access_ip_v4", "access_ip_v6", "auto_disk_config", "availability_zone",
    "config_drive", "created_at", "display_description", "display_name", "host",
    "hostname", "image_ref", "instance_type_id", "kernel_id", "key_name",
    "launch_index", "launched_at", "locked_by", "node", "power_state", "progress",
    "project_id", "ramdisk_id", "root_device_name", "task_state", "terminated_at",
    "updated_at", "user_id", "uuid", "vm_state",
)  # fmt: skip
"""Nova's ``VALID_SORT_KEYS`` (``locked`` joins them at 2.73)."""

IGNORED_SORT_KEYS = (
    "architecture", "cell_name", "cleaned", "default_ephemeral_device",
    "default_swap_device", "deleted", "deleted_at", "disable_terminate",
    "ephemeral_gb", "ephemeral_key_uuid", "id", "key_data", "launched_on",
    "locked", "memory_mb", "os_type", "reservation_id", "root_gb",
    "shutdown_terminate", "user_data", "vcpus", "vm_mode",
)  # fmt: skip
"""``SERVER_LIST_IGNORE_SORT_KEY``: accepted before 2.75, then dropped from the sort."""

IGNORED_SORT_KEYS_V273 = tuple(key for key in IGNORED_SORT_KEYS if key != "locked")

JOINED_TABLES = (
    "block_device_mapping", "services", "metadata", "system_metadata",
    "info_cache", "security_groups", "pci_devices",
)  # fmt: skip
"""Filters naming another table: in the schema, so that an admin gets a 400 naming them."""


def regex(value: str) -> None:
    """Nova's ``regex`` format: a non-empty pattern that compiles."""
    try:
        valid = bool(value) and re.compile(value) is not None
    except re.error:
        valid = False
    if not valid:
        fail(f"{value!r} is not a 'regex'")


def parse_datetime(value: str) -> datetime.datetime | None:
    """An ISO 8601 time as naive UTC (Nova's ``parse_isotime`` + ``normalize_time``)."""
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    return parsed


def date_time(value: str) -> None:
    if parse_datetime(value) is None:
        fail(f"{value!r} is not a 'date-time'")


_ANY = query.any_string
_REGEX = regex

_V21: dict[str, query.Check] = {
    "user_id": _ANY, "project_id": _ANY, "tenant_id": _ANY, "launch_index": _ANY,
    "image_ref": _ANY, "image": _ANY, "kernel_id": _REGEX, "ramdisk_id": _REGEX,
    "hostname": _REGEX, "key_name": _REGEX, "power_state": _REGEX, "vm_state": _ANY,
    "task_state": _ANY, "host": _ANY, "node": _REGEX, "flavor": _REGEX,
    "reservation_id": _REGEX, "launched_at": _REGEX, "terminated_at": _REGEX,
    "availability_zone": _REGEX, "name": _REGEX, "display_name": _REGEX,
    "description": _REGEX, "display_description": _REGEX, "locked_by": _REGEX,
    "uuid": _ANY, "root_device_name": _REGEX, "config_drive": _REGEX,
    "access_ip_v4": _REGEX, "access_ip_v6": _REGEX, "auto_disk_config": _REGEX,
    "progress": _REGEX, "sort_key": query.one_of(*SORT_KEYS, *IGNORED_SORT_KEYS),
    "sort_dir": _ANY, "all_tenants": _ANY, "soft_deleted": _ANY, "deleted": _ANY,
    "status": _ANY, "changes-since": date_time, "ip": _REGEX, "ip6": _REGEX,
    "created_at": _REGEX,
    **{name: _ANY for name in JOINED_TABLES},
    **query.PAGINATION,
}  # fmt: skip
_V226 = {**_V21, "tags": _REGEX, "tags-any": _REGEX, "not-tags": _REGEX, "not-tags-any": _REGEX}
_V266 = {**_V226, "changes-before": date_time}
_V273 = {
    **_V266,
    "sort_key": query.one_of("locked", *sorted(SORT_KEYS), *IGNORED_SORT_KEYS_V273),
    "locked": _ANY,
}
_V275 = {**_V273, "sort_key": query.one_of(*sorted((*SORT_KEYS, "locked")))}

_LIST_QUERIES = ((V2_75, _V275), (V2_73, _V273), (V2_66, _V266), (V2_26, _V226))


def list_query(request: Request, version: APIVersion) -> query.Params:
    """The list request's parameters that pass the schema of ``version`` (Nova's 400 if not)."""
    table = next((t for since, t in _LIST_QUERIES if version >= since), _V21)
    internal = {name: _ANY for name in request.query_params if name.startswith("_")}
    return query.validate_query(request, {**table, **internal}, strict=version >= V2_75)


def ignored_sort_keys(version: APIVersion) -> tuple[str, ...]:
    """Sort keys the schema of ``version`` accepts and the list then drops."""
    if version >= V2_75:
        return ()
    return IGNORED_SORT_KEYS_V273 if version >= V2_73 else IGNORED_SORT_KEYS


# --- PUT /servers/{id} ---------------------------------------------------------------------


def _hostname(value: Any) -> str:
    """Nova's ``hostname`` (2.90-2.93): an RFC 952-ish single label of 2-63 characters."""
    string(2, 63)(value)
    check_pattern(value, "^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$")
    return str(value)


def _check_of(annotated: Any) -> Callable[[Any], Any]:
    """The check of an ``Annotated[str, PlainValidator(check)]`` field type."""
    validator: PlainValidator = typing.get_args(annotated)[1]
    return validator.func  # type: ignore[return-value]


# Optional keys that are never null: the check runs on any value the client sent.
MaybeName: TypeAlias = Annotated[str | None, PlainValidator(_check_of(Name))]
MaybeIPv4: TypeAlias = Annotated[str | None, PlainValidator(_check_of(IPv4))]
MaybeIPv6: TypeAlias = Annotated[str | None, PlainValidator(_check_of(IPv6))]
MaybeHostname: TypeAlias = Annotated[str | None, PlainValidator(_hostname)]
MaybeFqdn: TypeAlias = Annotated[str | None, PlainValidator(_check_of(Fqdn))]
MaybeDiskConfig: TypeAlias = Annotated[str | None, PlainValidator(enum("AUTO", "MANUAL"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerUpdate(_Strict):
    """``update`` (2.1-2.18): what a key left out keeps, ``model_fields_set`` tells."""

    name: MaybeName = None
    disk_config: MaybeDiskConfig = Field(None, alias="OS-DCF:diskConfig")
    accessIPv4: MaybeIPv4 = None
    accessIPv6: MaybeIPv6 = None


class ServerUpdateV219(ServerUpdate):
    description: Description = None


class ServerUpdateV290(ServerUpdateV219):
    hostname: MaybeHostname = None


class ServerUpdateV294(ServerUpdateV219):
    hostname: MaybeFqdn = None


class UpdateBody(_Strict):
    server: ServerUpdate


class UpdateBodyV219(_Strict):
    server: ServerUpdateV219


class UpdateBodyV290(_Strict):
    server: ServerUpdateV290


class UpdateBodyV294(_Strict):
    server: ServerUpdateV294


UpdateBodies: TypeAlias = UpdateBody | UpdateBodyV219 | UpdateBodyV290 | UpdateBodyV294
_UPDATES: Mapping[APIVersion, type[UpdateBodies]] = {
    V2_94: UpdateBodyV294,
    V2_90: UpdateBodyV290,
    V2_19: UpdateBodyV219,
}


def update_body(version: APIVersion) -> type[UpdateBodies]:
    """The ``PUT /servers/{id}`` body model of ``version``."""
    return next((model for since, model in _UPDATES.items() if version >= since), UpdateBody)
