"""``limit``/``marker`` pagination and sorting, the way OpenStack APIs page lists.

Pages are keyset pages: the marker's sort values bound the next page, so a
page never skips or repeats rows when others are added meanwhile. The last
sort key is always the unique id, so the order is total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute
from starlette.requests import Request

from cumulo import exception


@dataclass(frozen=True)
class SortKey:
    column: InstrumentedAttribute[Any]
    descending: bool = False


@dataclass
class PageRequest:
    limit: int | None = None
    marker: str | None = None
    sort: list[SortKey] = field(default_factory=list)


def parse_limit(raw: str | None, max_limit: int) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise exception.Invalid("limit param must be an integer") from None
    if value < 0:
        raise exception.Invalid("limit param must be positive")
    return min(value, max_limit)


def apply_sort(stmt: Select[Any], sort: Sequence[SortKey]) -> Select[Any]:
    return stmt.order_by(*[k.column.desc() if k.descending else k.column.asc() for k in sort])


def after_marker(stmt: Select[Any], sort: Sequence[SortKey], marker_row: Any) -> Select[Any]:
    """Rows strictly after ``marker_row`` in ``sort`` order."""
    clauses = []
    for i, key in enumerate(sort):
        equal = [k.column == getattr(marker_row, k.column.key) for k in sort[:i]]
        value = getattr(marker_row, key.column.key)
        beyond = key.column < value if key.descending else key.column > value
        clauses.append(and_(*equal, beyond))
    return stmt.where(or_(*clauses))


def next_links(
    request: Request, items: Sequence[Any], limit: int | None, marker_of: str = "id"
) -> list[dict[str, str]]:
    """A ``rel: next`` link when this page is full, for ``<collection>_links``."""
    if limit is None or limit == 0 or len(items) < limit:
        return []
    last = items[-1]
    marker = last[marker_of] if isinstance(last, dict) else getattr(last, marker_of)
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
    params.append(("marker", str(marker)))
    base = str(request.url.replace(query=""))
    return [{"rel": "next", "href": f"{base}?{urlencode(params)}"}]
