"""The query of ``GET /v2/images``: filters, sorting and paging, checked as Glance does."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cumulo import exception
from cumulo.api import pagination

SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
    "visibility",
    "owner",
    "min_disk",
    "min_ram",
)
# Filters on one column: ``key=value`` or ``key=in:a,b``.
COLUMN_FILTERS = (
    "name",
    "status",
    "owner",
    "disk_format",
    "container_format",
    "checksum",
    "os_hash_value",
    "id",
)
BOOLEAN_FILTERS = ("protected", "os_hidden")
TIME_FILTERS = ("created_at", "updated_at")
TIME_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte")
VISIBILITIES = ("public", "private", "community", "shared", "all")
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")
NOT_PROPERTIES = {
    *COLUMN_FILTERS,
    *BOOLEAN_FILTERS,
    *TIME_FILTERS,
    "visibility",
    "member_status",
    "tag",
    "size_min",
    "size_max",
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "sort",
}
DEFAULT_LIMIT = 25  # Glance's limit_param_default
MAX_LIMIT = 1000  # Glance's api_limit_max


@dataclass(frozen=True)
class TimeFilter:
    column: str
    operator: str
    value: datetime.datetime


@dataclass
class ListQuery:
    """What a list request asks for, every value checked."""

    columns: dict[str, list[str]] = field(default_factory=dict)
    booleans: dict[str, bool] = field(default_factory=dict)
    visibility: str | None = None
    member_status: str = "accepted"
    tags: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    size_min: int | None = None
    size_max: int | None = None
    times: list[TimeFilter] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=lambda: [("created_at", True)])
    limit: int = DEFAULT_LIMIT
    marker: str | None = None


def parse(
    params: Mapping[str, str],
    tags: Sequence[str],
    sort_keys: Sequence[str],
    sort_dirs: Sequence[str],
) -> ListQuery:
    """A ``ListQuery`` from the request's parameters (repeated ones passed as lists)."""
    query = ListQuery(
        tags=list(tags), limit=_limit(params.get("limit")), marker=params.get("marker")
    )
    query.sort = _sorting(params.get("sort"), list(sort_keys), list(sort_dirs))
    for key in COLUMN_FILTERS:
        if key in params:
            raw = params[key]
            query.columns[key] = raw[3:].split(",") if raw.startswith("in:") else [raw]
    for key in BOOLEAN_FILTERS:
        if key in params:
            query.booleans[key] = _boolean(key, params[key])
    _visibility(query, params)
    query.size_min = _size(params, "size_min")
    query.size_max = _size(params, "size_max")
    query.times = [_time(key, params[key]) for key in TIME_FILTERS if key in params]
    query.properties = {k: v for k, v in params.items() if k not in NOT_PROPERTIES}
    return query


def _limit(raw: str | None) -> int:
    return pagination.parse_limit(raw, MAX_LIMIT, default=DEFAULT_LIMIT)


def _sort_key(key: str) -> str:
    if key not in SORT_KEYS:
        raise exception.Invalid(
            f"Invalid sort key: {key}. It must be one of the following: {', '.join(SORT_KEYS)}."
        )
    return key


def _descending(direction: str) -> bool:
    if direction not in ("asc", "desc"):
        raise exception.Invalid(f"Invalid sort direction: {direction}")
    return direction == "desc"


def _sorting(sort: str | None, keys: list[str], dirs: list[str]) -> list[tuple[str, bool]]:
    """``sort=key:dir,…`` or the older ``sort_key``/``sort_dir`` pairs (never both)."""
    if sort is not None:
        if keys or dirs:
            raise exception.Invalid("Old and new sorting syntax cannot be combined")
        result = []
        for item in sort.split(","):
            key, _, direction = item.strip().partition(":")
            result.append((_sort_key(key.strip()), _descending(direction.strip() or "desc")))
        return result
    keys = keys or ["created_at"]
    if not dirs:
        dirs = ["desc"] * len(keys)
    elif len(dirs) == 1 and len(keys) > 1:
        dirs = dirs * len(keys)
    if len(dirs) != len(keys):
        raise exception.Invalid("Number of sort dirs does not match the number of sort keys")
    return [(_sort_key(k), _descending(d)) for k, d in zip(keys, dirs, strict=True)]


def _boolean(key: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise exception.Invalid(
            f"Invalid value '{raw}' for '{key}' filter. Valid values are 'true' or 'false'."
        )
    return lowered == "true"


def _visibility(query: ListQuery, params: Mapping[str, str]) -> None:
    visibility = params.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        raise exception.Invalid(f"Invalid visibility value: {visibility}")
    query.visibility = visibility
    member_status = params.get("member_status", "accepted")
    if member_status not in MEMBER_STATUSES:
        raise exception.Invalid(f"Invalid status: {member_status}")
    query.member_status = member_status


def _size(params: Mapping[str, str], key: str) -> int | None:
    raw = params.get(key)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise exception.Invalid(f"Invalid value for {key}: {raw!r} is not an integer.") from None


def _time(key: str, raw: str) -> TimeFilter:
    """``key=[op:]timestamp``, Glance's changes-since style operators."""
    operator, sep, value = raw.partition(":")
    if not sep or operator not in TIME_OPERATORS:
        operator, value = "eq", raw
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise exception.Invalid(f"Invalid time format for {key}.") from None
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    return TimeFilter(key, operator, when)
