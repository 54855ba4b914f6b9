"""The shared limit/marker helpers: page sizes, keyset pages in SQL and in Python, next links."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select
from starlette.requests import Request

from cumulo import exception
from cumulo.api import pagination
from cumulo.api.pagination import SortKey
from cumulo.db.models.compute import Flavor
from cumulo.runtime import Runtime


def _request(path: str = "/v2/things", query: str = "") -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("cloud.test", 80),
        "path": path,
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"cloud.test")],
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 50), ("0", 0), ("7", 7), ("50", 50), ("500", 50)]
)
def test_limit_is_capped_and_defaults_to_the_maximum(raw: str | None, expected: int) -> None:
    assert pagination.parse_limit(raw, 50) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [("x", "limit param must be an integer"), ("-1", "limit param must be positive")],
)
def test_a_bad_limit_is_invalid(raw: str, message: str) -> None:
    with pytest.raises(exception.Invalid) as caught:
        pagination.parse_limit(raw, 50)
    assert str(caught.value) == message


def _rows(*values: int | None) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=i, size=v) for i, v in enumerate(values)]


def test_python_sort_puts_nulls_first_and_breaks_ties_by_id() -> None:
    rows = _rows(3, None, 1, 3)
    key = pagination.nulls_first("size")
    assert [r.id for r in pagination.sort_rows(rows, key)] == [1, 2, 0, 3]
    assert [r.id for r in pagination.sort_rows(rows, key, descending=True)] == [3, 0, 2, 1]


@pytest.mark.parametrize(("descending", "expected"), [(False, [0, 3]), (True, [1])])
def test_python_rows_after_a_marker(descending: bool, expected: list[int]) -> None:
    rows = _rows(3, None, 1, 3)
    key = pagination.nulls_first("size")
    ordered = pagination.sort_rows(rows, key, descending)
    after = pagination.rows_after(ordered, key, rows[2], descending)
    assert [r.id for r in after] == expected


async def test_sql_keyset_page_follows_every_sort_key(runtime: Runtime) -> None:
    async with runtime.db.write() as session:
        for flavorid, ram in (("a", 512), ("b", 256), ("c", 512), ("d", 1024)):
            session.add(Flavor(flavorid=flavorid, name=flavorid, memory_mb=ram, vcpus=1))
    sort = [SortKey(Flavor.memory_mb, descending=True), SortKey(Flavor.flavorid)]
    async with runtime.db.read() as session:
        marker = await session.scalar(select(Flavor).where(Flavor.flavorid == "a"))
        stmt = pagination.apply_sort(select(Flavor.flavorid), sort)
        assert list(await session.scalars(stmt)) == ["d", "a", "c", "b"]
        after = pagination.after_marker(stmt, sort, marker)
        assert list(await session.scalars(after)) == ["c", "b"]


def test_a_full_page_links_to_the_next_with_the_same_query() -> None:
    request = _request(query="limit=2&name=x&marker=old")
    links = pagination.next_links(request, [{"id": "1"}, {"id": "2"}], 2, 100)
    assert links == [{"rel": "next", "href": "http://cloud.test/v2/things?limit=2&name=x&marker=2"}]


def test_a_page_filling_the_maximum_links_on_without_a_limit() -> None:
    items = [SimpleNamespace(name="a"), SimpleNamespace(name="b")]
    links = pagination.next_links(_request(), items, None, 2, "name")
    assert links == [{"rel": "next", "href": "http://cloud.test/v2/things?marker=b"}]
    assert pagination.next_links(_request(), items, 5, 2, "name") == links


@pytest.mark.parametrize(("count", "limit"), [(1, 2), (0, 0), (0, None), (2, 3)])
def test_a_short_or_empty_page_has_no_next_link(count: int, limit: int | None) -> None:
    items = [{"id": str(i)} for i in range(count)]
    assert pagination.next_links(_request(), items, limit, 3) == []


def test_a_next_link_can_name_its_own_url_params_and_marker() -> None:
    links = pagination.next_links(
        _request(query="ignored=1"),
        ["x", "y"],
        2,
        10,
        str.upper,
        href="http://cloud.test/other",
        params=[("limit", "2"), ("marker", "w"), ("sort", "name")],
    )
    assert links == [{"rel": "next", "href": "http://cloud.test/other?limit=2&marker=Y&sort=name"}]
