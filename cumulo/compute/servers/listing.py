"""Which servers a ``GET /servers`` request lists, in which order, and which page of them.

Nova spreads this over ``ServersController._get_servers`` (who may filter on
what), ``compute.API.get_all`` (renaming filters) and the database's
``instance_get_all_by_filters_sort``; here it is two steps: ``search_for``
turns the validated query string into a ``Search``, refusing it with Nova's
error where Nova does, and ``find`` runs it.

Exact filters, the sort and the marker run in SQL. The filters Nova matches
as regular expressions (``name``, ``reservation_id``, ``ip`` …) run in
Python, ``re.search`` as the database's ``REGEXP`` (``re.match`` for the IPs,
as Nova's ``_ip_filter``), so that they mean the same on every engine; rows
are then read in keyset batches until the page is full.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, literal, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.api import policy
from cumulo.api.microversion import APIVersion
from cumulo.compute import errors, query
from cumulo.compute.servers import query_schemas
from cumulo.compute.servers.query_schemas import parse_datetime
from cumulo.compute.states import VmState, states_from_status
from cumulo.context import RequestContext
from cumulo.db.models.compute import Flavor
from cumulo.db.models.instances import Instance, InstanceTag

_V = APIVersion.parse
_USER_OPTIONS: tuple[tuple[APIVersion, tuple[str, ...]], ...] = (
    (_V("2.1"), ("reservation_id", "name", "status", "image", "flavor", "ip")),
    (_V("2.1"), ("changes-since", "all_tenants")),
    (_V("2.5"), ("ip6",)),
    (_V("2.26"), ("tags", "tags-any", "not-tags", "not-tags-any")),
    (_V("2.66"), ("changes-before",)),
    (_V("2.73"), ("locked",)),
    (_V("2.83"), ("availability_zone", "config_drive", "key_name", "created_at")),
    (_V("2.83"), ("launched_at", "terminated_at", "power_state", "task_state", "vm_state")),
    (_V("2.83"), ("progress", "user_id")),
    (_V("2.90"), ("hostname",)),
)
"""``_get_server_search_options``: the filters a caller without ``allow_all_filters`` keeps."""

_PAGING_SORTING = ("sort_key", "sort_dir", "limit", "marker")
_V2_38 = _V("2.38")

_EXACT = {
    "project_id": "project_id", "tenant_id": "project_id", "user_id": "user_id",
    "image": "image_ref", "image_ref": "image_ref", "vm_state": "vm_state",
    "task_state": "task_state", "uuid": "uuid", "host": "host",
}  # fmt: skip
"""Filters matched exactly (Nova's ``exact_match_filter_names``), by the column they test."""

_PATTERN = {
    "name": "display_name", "display_name": "display_name",
    "display_description": "display_description", "reservation_id": "reservation_id",
    "key_name": "key_name", "availability_zone": "availability_zone",
    "config_drive": "config_drive", "hostname": "hostname", "node": "node",
    "power_state": "power_state", "launched_at": "launched_at",
    "terminated_at": "terminated_at", "created_at": "created_at", "progress": "progress",
    "kernel_id": "kernel_id", "ramdisk_id": "ramdisk_id", "locked_by": "locked_by",
    "root_device_name": "root_device_name", "access_ip_v4": "access_ip_v4",
    "access_ip_v6": "access_ip_v6", "auto_disk_config": "auto_disk_config",
    "launch_index": "launch_index",
}  # fmt: skip
"""Filters Nova matches as a regular expression on a column (others, as ``description``,
name no column and are ignored, as in Nova)."""

_SORT_COLUMNS = {"instance_type_id": "flavor_id"}
_ADMIN_SORT_KEYS = ("host", "node")
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")
_BATCH = 500


@dataclass
class Search:
    """A list request made plain: what to select, how to order it, which page."""

    project_id: str | None = None
    deleted: bool | None = False
    soft_deleted: bool = False
    exact: dict[str, list[Any]] = field(default_factory=dict)
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    ips: dict[int, re.Pattern[str]] = field(default_factory=dict)
    changes_since: datetime.datetime | None = None
    changes_before: datetime.datetime | None = None
    tags: dict[str, list[str]] = field(default_factory=dict)
    flavor: str | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)
    """(Instance attribute, descending) pairs; the last is unique."""
    limit: int = 0
    marker: str | None = None
    nothing: bool = False
    """Known to select no server (an unknown status before 2.38)."""


# --- from the query string to a Search -----------------------------------------------------


def search_for(
    ctx: RequestContext, params: query.Params, version: APIVersion, limit: int
) -> Search:
    """The search a list request asks for, or the 400/403 Nova answers it with."""
    opts: dict[str, Any] = {name: values[-1] for name, values in params.items()}
    _remove_invalid_options(ctx, opts, version)
    for name in opts:
        if name in query_schemas.JOINED_TABLES or name.startswith("_"):
            raise exception.Invalid(f"Invalid filter field: {name}.")
    search = Search(limit=limit, marker=query.last(params, "marker"))
    if "status" in opts and not _apply_status(opts, params["status"], version):
        search.nothing = True
        return search
    _changes(search, opts)
    _deleted(ctx, search, opts)
    all_tenants = _is_all_tenants(opts)
    if "locked" in opts:
        search.exact["locked"] = [_strict_bool(opts.pop("locked"))]
    if all_tenants:
        policy.enforce(ctx, "compute:servers:index:get_all_tenants", {})
    else:
        opts.pop("tenant_id", None)
        opts.pop("project_id", None)
        if ctx.project_id:
            search.project_id = ctx.project_id
        else:
            opts["user_id"] = ctx.user_id
    _filters(search, opts)
    search.sort = _sort(ctx, params, version)
    return search


def _remove_invalid_options(ctx: RequestContext, opts: dict[str, Any], version: APIVersion) -> None:
    """Nova's ``remove_invalid_options``: an admin keeps every filter, others only theirs."""
    if policy.check(ctx, "compute:servers:allow_all_filters", {}):
        for name in _PAGING_SORTING:
            opts.pop(name, None)
        return
    allowed = {name for since, names in _USER_OPTIONS if version >= since for name in names}
    for name in [name for name in opts if name not in allowed]:
        del opts[name]


def _apply_status(opts: dict[str, Any], statuses: list[str], version: APIVersion) -> bool:
    """Turn ``status`` into vm/task state filters; False when no status matched (pre 2.38)."""
    del opts["status"]
    vm_states: set[str] = set()
    task_states: set[str | None] = set()
    any_task = False
    for status in statuses:
        states = states_from_status(status)
        if states is None:
            continue
        vm_states.update(states[0])
        if states[1] is None:
            any_task = True
        else:
            task_states.update(states[1])
    if not vm_states:
        if version >= _V2_38:
            raise exception.Invalid("Invalid status value")
        return False
    opts["vm_state"] = sorted(vm_states)
    if not any_task:
        opts["task_state"] = sorted(state for state in task_states if state is not None)
    return True


def _changes(search: Search, opts: dict[str, Any]) -> None:
    since, before = opts.pop("changes-since", None), opts.pop("changes-before", None)
    search.changes_since = parse_datetime(since) if since is not None else None
    search.changes_before = parse_datetime(before) if before is not None else None
    if search.changes_since and search.changes_before:
        if search.changes_before < search.changes_since:
            raise exception.Invalid(
                "The value of changes-since must be less than or equal to changes-before."
            )


def _deleted(ctx: RequestContext, search: Search, opts: dict[str, Any]) -> None:
    """Live servers only, unless asked otherwise or listing what changed (deleted too)."""
    if "deleted" in opts:
        search.deleted = str(opts.pop("deleted")).strip().lower() in _TRUE
    elif search.changes_since or search.changes_before:
        search.deleted = None
    if opts.get("vm_state") == [VmState.DELETED]:
        if not ctx.is_admin:
            raise exception.Forbidden("Only administrators may list deleted instances")
        search.deleted = True
    soft_deleted = opts.pop("soft_deleted", None)
    if soft_deleted is None:
        search.soft_deleted = bool(search.deleted)
    else:
        search.soft_deleted = str(soft_deleted).strip().lower() in _TRUE


def _strict_bool(value: str) -> bool:
    """oslo's ``bool_from_string(strict=True)``, failing as Nova's ``InvalidInput``."""
    text = value.strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    accepted = ", ".join(f"'{word}'" for word in sorted(_TRUE + _FALSE))
    raise exception.InvalidInput(
        reason=f"Unrecognized value '{value}', acceptable values are: {accepted}"
    )


def _is_all_tenants(opts: dict[str, Any]) -> bool:
    """``all_tenants`` present and true; present without a value counts as true."""
    if "all_tenants" not in opts:
        return False
    value = opts.pop("all_tenants")
    return _strict_bool(value) if value else True


def _filters(search: Search, opts: dict[str, Any]) -> None:
    for name, value in opts.items():
        if name in ("tags", "tags-any", "not-tags", "not-tags-any"):
            search.tags[name] = str(value).split(",")
        elif name in ("ip", "ip6"):
            search.ips[4 if name == "ip" else 6] = _compile(name, value)
        elif name == "flavor":
            search.flavor = value
        elif name in _EXACT:
            search.exact[_EXACT[name]] = value if isinstance(value, list) else [value]
        elif name in _PATTERN:
            search.patterns[_PATTERN[name]] = _compile(name, value)


def _compile(name: str, value: str) -> re.Pattern[str]:
    """The filter's pattern (the schema checked most; ``launch_index`` it takes as any string)."""
    try:
        return re.compile(value)
    except re.error:
        raise exception.Invalid(
            f"Invalid input for query parameters {name}. Value: {value}. {value!r} is not a 'regex'"
        ) from None


def _sort(ctx: RequestContext, params: query.Params, version: APIVersion) -> list[tuple[str, bool]]:
    """Nova's ``get_sort_params``, ``remove_invalid_sort_keys`` and ``process_sort_params``."""
    keys = [key.strip() for key in params.get("sort_key", [])] or ["created_at"]
    dirs = [direction.strip() for direction in params.get("sort_dir", [])] or ["desc"]
    ignored = query_schemas.ignored_sort_keys(version)
    for key in list(keys):
        if key in ignored:
            if len(dirs) > keys.index(key):
                dirs.pop(keys.index(key))
            keys.pop(keys.index(key))
        elif key in _ADMIN_SORT_KEYS and not ctx.is_admin:
            raise exception.Forbidden(f"Only administrators can sort servers by {key}")
    default_dir = dirs[0] if dirs else "desc"
    if any(direction not in ("asc", "desc") for direction in dirs):
        raise exception.InvalidInput(reason="Unknown sort direction, must be 'desc' or 'asc'")
    if len(dirs) > len(keys):
        raise exception.InvalidInput(reason="Sort direction size exceeds sort key size")
    dirs += [default_dir] * (len(keys) - len(dirs))
    for key in ("created_at", "id"):
        if key not in keys:
            keys.append(key)
            dirs.append(default_dir)
    return [(_SORT_COLUMNS.get(key, key), d == "desc") for key, d in zip(keys, dirs, strict=True)]


# --- running a Search ----------------------------------------------------------------------


async def find(session: AsyncSession, search: Search) -> list[Instance]:
    """The page of instances ``search`` selects, in its order."""
    if search.nothing or search.limit == 0:
        return []
    if search.flavor is not None and not await _flavor_exists(session, search.flavor):
        return []
    stmt = select(Instance).where(*_where(search)).order_by(*_order_by(search.sort))
    if search.marker is not None:
        marker = await session.scalar(select(Instance).where(Instance.uuid == search.marker))
        if marker is None:
            raise errors.MarkerNotFound(marker=search.marker)
        stmt = stmt.where(_after(search.sort, marker))
    if not search.patterns and not search.ips:
        return list(await session.scalars(stmt.limit(search.limit)))
    return await _scan(session, stmt, search)


async def _flavor_exists(session: AsyncSession, flavorid: str) -> bool:
    found = await session.scalar(select(Flavor.id).where(Flavor.flavorid == flavorid))
    return found is not None


async def _scan(session: AsyncSession, stmt: Select[Any], search: Search) -> list[Instance]:
    """Read rows in keyset batches, keeping those the Python filters pass, to fill the page."""
    found: list[Instance] = []
    batch_stmt = stmt
    while True:
        rows = list(await session.scalars(batch_stmt.limit(_BATCH)))
        found.extend(row for row in rows if _passes(search, row))
        if len(found) >= search.limit or len(rows) < _BATCH:
            return found[: search.limit]
        batch_stmt = stmt.where(_after(search.sort, rows[-1]))


def _where(search: Search) -> Iterator[ColumnElement[bool]]:
    if search.project_id is not None:
        yield Instance.project_id == search.project_id
    yield from _deleted_clauses(search)
    for attribute, values in search.exact.items():
        yield getattr(Instance, attribute).in_(values)
    if search.flavor is not None:
        yield Instance.flavor_id == search.flavor
    if search.changes_since is not None:
        yield Instance.updated_at >= search.changes_since
    if search.changes_before is not None:
        yield Instance.updated_at <= search.changes_before
    yield from _tag_clauses(search.tags)


def _deleted_clauses(search: Search) -> Iterator[ColumnElement[bool]]:
    soft = Instance.vm_state == VmState.SOFT_DELETED
    if search.deleted is True:
        yield or_(Instance.deleted != 0, soft) if search.soft_deleted else Instance.deleted != 0
    elif search.deleted is False:
        yield Instance.deleted == 0
        if not search.soft_deleted:
            yield not_(soft)


def _tagged(tags: Iterable[str]) -> ColumnElement[bool]:
    return exists().where(InstanceTag.instance_uuid == Instance.uuid, InstanceTag.tag.in_(tags))


def _tag_clauses(tags: dict[str, list[str]]) -> Iterator[ColumnElement[bool]]:
    if "tags" in tags:
        yield and_(*(_tagged([tag]) for tag in tags["tags"]))
    if "tags-any" in tags:
        yield _tagged(tags["tags-any"])
    if "not-tags" in tags:
        yield not_(and_(*(_tagged([tag]) for tag in tags["not-tags"])))
    if "not-tags-any" in tags:
        yield not_(_tagged(tags["not-tags-any"]))


def _order_by(sort: list[tuple[str, bool]]) -> Iterator[Any]:
    """ORDER BY with NULLs first ascending, last descending (as MySQL and SQLite), everywhere."""
    for attribute, descending in sort:
        column = getattr(Instance, attribute)
        if _nullable(attribute):
            present = column.is_not(None)
            yield present.desc() if descending else present.asc()
        yield column.desc() if descending else column.asc()


def _nullable(attribute: str) -> bool:
    return bool(Instance.__mapper__.columns[attribute].nullable)


def _after(sort: list[tuple[str, bool]], row: Instance) -> ColumnElement[bool]:
    """Rows strictly after ``row`` in ``sort`` order, NULLs placed as ``_order_by`` places them."""
    clauses = []
    equal: list[ColumnElement[bool]] = []
    for attribute, descending in sort:
        column = getattr(Instance, attribute)
        value = getattr(row, attribute)
        if value is None:
            beyond: ColumnElement[bool] = false() if descending else column.is_not(None)
            same: ColumnElement[bool] = column.is_(None)
        else:
            bound = literal(value, column.type)
            beyond = column < bound if descending else column > bound
            if descending and _nullable(attribute):
                beyond = or_(beyond, column.is_(None))
            same = column == bound
        clauses.append(and_(*equal, beyond))
        equal.append(same)
    return or_(*clauses)


def _passes(search: Search, instance: Instance) -> bool:
    for attribute, pattern in search.patterns.items():
        text = _text(getattr(instance, attribute))
        if text is None or not pattern.search(text):
            return False
    if search.ips:
        return any(
            wanted.match(address)
            for version, address in fixed_ips(instance)
            if (wanted := search.ips.get(version)) is not None
        )
    return True


def _text(value: Any) -> str | None:
    """A column's value as the database's REGEXP sees it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def fixed_ips(instance: Instance) -> Iterator[tuple[int, str]]:
    """(version, address) of each fixed IP in the instance's cached network info."""
    for vif in instance.network_info or []:
        for subnet in (vif.get("network") or {}).get("subnets") or []:
            for ip in subnet.get("ips") or []:
                yield int(ip.get("version", 4)), str(ip.get("address", ""))
