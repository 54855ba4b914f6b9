"""``GET /volumes`` and ``/volumes/detail``: filters, ``all_tenants``, sort and keyset pages.

Filters are exact matches, as Cinder's are without the ``~`` suffix:
``name``, ``status``, ``availability_zone``, ``bootable`` and ``metadata``
(a JSON or Python-literal dict: every pair must be on the volume). An admin
sees every project's volumes with ``all_tenants`` (narrowed by
``project_id``); everyone else sees their project's. Sorting takes Cinder's
``sort=key:dir,…`` or ``sort_key``/``sort_dir``, default ``created_at:desc``,
with ``id`` last so the order is total.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cumulo import exception
from cumulo.api import pagination
from cumulo.api.pagination import SortKey
from cumulo.context import RequestContext
from cumulo.db.models.volume import Volume
from cumulo.volume import errors
from cumulo.volume.http import version
from cumulo.volume.microversions import Feature, supports
from cumulo.volume.schemas import boolean

SORT_COLUMNS = {
    "created_at": Volume.created_at,
    "updated_at": Volume.updated_at,
    "id": Volume.id,
    "name": Volume.name,
    "display_name": Volume.name,
    "size": Volume.size,
    "status": Volume.status,
    "availability_zone": Volume.availability_zone,
    "bootable": Volume.bootable,
}


FILTERS = frozenset({"name", "display_name", "status", "availability_zone", "bootable", "size",
                     "metadata"})  # fmt: skip
"""The filters cumulo applies. Cinder's default resource_filters also name migration_status,
group_id, created_at and updated_at; cumulo has no groups or migrations, so those are refused."""
NOT_FILTERS = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir", "offset",
                         "all_tenants", "project_id", "with_count", "is_public"})  # fmt: skip


def reject_invalid_filters(ctx: RequestContext, params: dict[str, str]) -> None:
    """From 3.33 a non-admin's unknown filter is a 400, as Cinder's ``reject_invalid_filters``."""
    if ctx.is_admin:
        return
    invalid = sorted(k for k in params if k not in FILTERS and k not in NOT_FILTERS)
    if invalid:
        found = ",".join(invalid)
        raise errors.InvalidInput(reason=f"Invalid filters {found} are found in query options.")


class MarkerNotFound(exception.NotFound):
    message = "Marker %(marker)s could not be found."


def _metadata_filter(raw: str) -> dict[str, str]:
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(raw)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    raise errors.InvalidInput(reason=f"Invalid metadata filter: {raw}")


def sort_keys(params: dict[str, str]) -> list[SortKey]:
    """Cinder's ``sort`` (``key[:dir],…``) or ``sort_key``/``sort_dir``, then ``id``."""
    pairs: list[tuple[str, str]] = []
    if params.get("sort"):
        for item in params["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key, direction or "desc"))
    elif params.get("sort_key"):
        pairs.append((params["sort_key"], params.get("sort_dir", "desc")))
    else:
        pairs.append(("created_at", "desc"))
    keys: list[SortKey] = []
    for key, direction in pairs:
        if key not in SORT_COLUMNS:
            raise errors.InvalidInput(reason=f"Invalid sort key {key}")
        if direction not in ("asc", "desc"):
            raise errors.InvalidInput(reason=f"Invalid sort direction {direction}")
        keys.append(SortKey(SORT_COLUMNS[key], direction == "desc"))
    if not any(k.column is Volume.id for k in keys):
        keys.append(SortKey(Volume.id, keys[-1].descending))
    return keys


def filtered(ctx: RequestContext, params: dict[str, str]) -> Select[Any]:
    stmt = select(Volume)
    if ctx.is_admin and "all_tenants" in params:
        if params.get("project_id"):
            stmt = stmt.where(Volume.project_id == params["project_id"])
    else:
        stmt = stmt.where(Volume.project_id == ctx.project_id)
    for key, column in (
        ("name", Volume.name),
        ("display_name", Volume.name),
        ("status", Volume.status),
        ("availability_zone", Volume.availability_zone),
    ):
        if key in params:
            stmt = stmt.where(column == params[key])
    if "bootable" in params:
        stmt = stmt.where(Volume.bootable == boolean("bootable", params["bootable"]))
    if "size" in params:
        try:
            stmt = stmt.where(Volume.size == int(params["size"]))
        except ValueError:
            raise errors.InvalidInput(reason=f"Invalid size filter: {params['size']}") from None
    return stmt


async def list_volumes(
    session: AsyncSession, ctx: RequestContext, request: Request, max_limit: int
) -> tuple[list[Volume], int | None, int | None]:
    """A page of the volumes ``ctx`` may see, its limit, and the total count if asked."""
    params = dict(request.query_params)
    if supports(version(request), Feature.RESOURCE_FILTER):
        reject_invalid_filters(ctx, params)
    stmt = filtered(ctx, params)
    limit = pagination.parse_limit(params.get("limit"), max_limit)
    keys = sort_keys(params)
    if params.get("marker"):
        marker = await session.get(Volume, params["marker"])
        if marker is None or not (ctx.is_admin or marker.project_id == ctx.project_id):
            raise MarkerNotFound(marker=params["marker"])
        stmt = pagination.after_marker(stmt, keys, marker)
    stmt = pagination.apply_sort(stmt, keys)
    if "metadata" not in params:
        stmt = stmt.limit(limit)
    rows = list(await session.scalars(stmt))
    if "metadata" in params:
        wanted = _metadata_filter(params["metadata"]).items()
        rows = [v for v in rows if wanted <= (v.metadata_ or {}).items()]
    count = None
    if "with_count" in params and boolean("with_count", params["with_count"]):
        count = len(rows) if "metadata" in params else await _count(session, ctx, params)
    asked = int(params["limit"]) if params.get("limit") else None
    return rows[:limit], asked, count


async def _count(session: AsyncSession, ctx: RequestContext, params: dict[str, str]) -> int:
    stmt = filtered(ctx, params).with_only_columns(func.count(Volume.id))
    return int(await session.scalar(stmt) or 0)
