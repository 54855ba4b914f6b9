"""``limit``/``marker`` pagination and sorting, the way OpenStack APIs page lists.

Pages are keyset pages: the marker's sort values bound the next page, so a
page never skips or repeats rows when others are added meanwhile. The last
sort key is always a unique column, so the order is total. Lists can be
paged in SQL (``apply_sort``/``after_marker``) or, for small tables whose
order must not depend on the database engine, in Python (``sort_rows``/
``rows_after``). Looking the marker up, and the "marker not found" error, are
each API's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute
from starlette.requests import Request

from cumulo import exception

RowKey = Callable[[Any], tuple[Any, ...]]


@dataclass(frozen=True)
class SortKey:
    column: InstrumentedAttribute[Any]
    descending: bool = False


def parse_limit(raw: str | None, max_limit: int, default: int | None = None) -> int:
    """The page size asked for, never above ``max_limit``; ``default`` (else ``max_limit``)
    when not asked."""
    if raw is None:
        return max_limit if default is None else default
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


def nulls_first(attribute: str, unique: str = "id") -> RowKey:
    """A Python sort key on ``attribute`` then ``unique``, NULLs first (as MySQL and SQLite)."""

    def key(row: Any) -> tuple[Any, ...]:
        value = getattr(row, attribute)
        return (value is not None, value if value is not None else 0, getattr(row, unique))

    return key


def sort_rows(rows: Iterable[Any], key: RowKey, descending: bool = False) -> list[Any]:
    return sorted(rows, key=key, reverse=descending)


def rows_after(
    rows: Iterable[Any], key: RowKey, marker_row: Any, descending: bool = False
) -> list[Any]:
    """The rows of an already sorted list that come strictly after ``marker_row``."""
    bound = key(marker_row)
    if descending:
        return [row for row in rows if key(row) < bound]
    return [row for row in rows if key(row) > bound]


def _marker(item: Any, marker_of: str | Callable[[Any], Any]) -> str:
    if callable(marker_of):
        return str(marker_of(item))
    return str(item[marker_of] if isinstance(item, Mapping) else getattr(item, marker_of))


def _with_marker(params: list[tuple[str, str]], marker: str) -> list[tuple[str, str]]:
    """``params`` with one ``marker``: where the old one stood, else at the end."""
    names = [name for name, _ in params]
    at = names.index("marker") if "marker" in names else len(params)
    rest = [(name, value) for name, value in params if name != "marker"]
    return [*rest[:at], ("marker", marker), *rest[at:]]


def next_links(
    request: Request,
    items: Sequence[Any],
    limit: int | None,
    max_limit: int,
    marker_of: str | Callable[[Any], Any] = "id",
    *,
    href: str | None = None,
    params: Iterable[tuple[str, str]] | None = None,
) -> list[dict[str, str]]:
    """A ``rel: next`` link when this page is full, for ``<collection>_links``.

    A page is full when it holds ``limit`` items, or ``max_limit`` items when
    no limit was asked (Nova's rule: a page cut by the server's cap also links
    on). The link is ``href`` (default: the request URL) with ``params``
    (default: the request's query) with the last item's marker.
    """
    size = max_limit if limit is None else min(limit, max_limit)
    if not size or len(items) != size:
        return []
    if params is None:
        params = request.query_params.multi_items()
    query = _with_marker(list(params), _marker(items[-1], marker_of))
    base = href if href is not None else str(request.url.replace(query=""))
    return [{"rel": "next", "href": f"{base}?{urlencode(query)}"}]
