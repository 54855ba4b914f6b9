"""Neutron list semantics over rendered resources: filters, ``fields``, sorting, pages.

The collections are per-project and small, so they are filtered and paged in
Python over the same dicts a show returns; that makes "filter by any
attribute" exact for every attribute, including the ``provider:*`` and
``binding:*`` ones that are not columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from cumulo import exception
from cumulo.api.pagination import next_links, parse_limit
from cumulo.network.errors import InvalidInput

CONTROL = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}
TAG_FILTERS = {"tags", "tags-any", "not-tags", "not-tags-any"}
MAX_LIMIT = 1000


def _matches(value: Any, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        return str(value).lower() in [w.lower() for w in wanted]
    if isinstance(value, list):
        return any(_list_matches(value, w) for w in wanted)
    text = "" if value is None else str(value)
    return text in wanted


def _list_matches(items: list[Any], wanted: str) -> bool:
    """``fixed_ips=ip_address=…``/``subnet_id=…`` and plain members (tags, dns)."""
    if "=" in wanted:
        key, _, want = wanted.partition("=")
        return any(isinstance(i, dict) and str(i.get(key)) == want for i in items)
    return wanted in [str(i) for i in items]


def _tags_match(tags: list[str], key: str, wanted: list[str]) -> bool:
    """Neutron's tag filters: comma lists, all of (``tags``) or any of (``tags-any``), or not."""
    names = {t for w in wanted for t in w.split(",") if t}
    hit = names <= set(tags) if key in ("tags", "not-tags") else bool(names & set(tags))
    return hit != key.startswith("not-")


def check_filters(request: Request, attributes: frozenset[str]) -> None:
    """Refuse filters on attributes the resource does not have, as Neutron's filter validation."""
    invalid = [k for k in request.query_params if k not in CONTROL | TAG_FILTERS | attributes]
    if invalid:
        raise exception.Invalid(f"{sorted(set(invalid))} is invalid attribute for filtering")


def filter_items(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    params = request.query_params
    for key in {k for k in params if k not in CONTROL}:
        wanted = params.getlist(key)
        if key in TAG_FILTERS:
            items = [i for i in items if _tags_match(i.get("tags", []), key, wanted)]
        else:
            items = [i for i in items if key in i and _matches(i[key], wanted)]
    return items


def _sort_key(keys: Sequence[str]) -> Any:
    def key(item: dict[str, Any]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for name in keys:
            value = item.get(name)
            parts.append((value is not None, str(value) if value is not None else ""))
        return tuple(parts)

    return key


def sort_items(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = request.query_params.getlist("sort_key")
    dirs = request.query_params.getlist("sort_dir")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise InvalidInput(error_message=f"{direction} is an invalid value for sort_dir")
    if dirs and len(dirs) != len(keys):
        raise InvalidInput(error_message="The number of sort_keys and sort_dirs must be same")
    for name in keys:
        if items and name not in items[0]:
            raise InvalidInput(error_message=f"{name} is an invalid attribute for sort_key")
    result = sorted(items, key=_sort_key(["id"]))
    pairs = list(zip(keys, dirs or ["asc"] * len(keys), strict=True))
    for name, direction in reversed(pairs):
        result.sort(key=_sort_key([name]), reverse=direction == "desc")
    return result


def only_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields}


def page(
    request: Request, collection: str, items: list[dict[str, Any]], attributes: frozenset[str]
) -> dict[str, Any]:
    """The list response body: filtered, sorted, paged, with ``fields`` applied.

    ``attributes`` are the resource's attributes, the ones a filter may name.
    """
    check_filters(request, attributes)
    items = sort_items(request, filter_items(request, items))
    marker = request.query_params.get("marker")
    if marker is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(marker) + 1 :] if marker in ids else []
    raw_limit = request.query_params.get("limit")
    body: dict[str, Any] = {}
    if raw_limit is not None:
        limit = parse_limit(raw_limit, MAX_LIMIT) or MAX_LIMIT
        items = items[:limit]
        links = next_links(request, items, limit, MAX_LIMIT)
        if links:
            body[f"{collection}_links"] = links
    fields = request.query_params.getlist("fields")
    body[collection] = [only_fields(i, fields) for i in items]
    return body
