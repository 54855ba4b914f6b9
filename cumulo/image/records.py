"""Finding images a caller may see, and listing them in SQL with Glance's filters.

Who sees what (Glance's rules): an admin sees every image; a project sees
its own, public and community ones, and shared ones it is a member of. The
default list leaves out community images (unless ``visibility=community``)
and shared images whose membership is not ``accepted`` (``member_status``
chooses another), and hidden ones (``os_hidden=true`` asks for them).
Pages are keyset pages on the sort values, NULLs sorting as the lowest value.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.image import Image, ImageMember, ImageTag
from cumulo.image.errors import ImageNotFound
from cumulo.image.listing import ListQuery, TimeFilter

_INTEGERS = {"size", "min_disk", "min_ram"}


def _membership(project_id: Any, status: str | None = None) -> ColumnElement[bool]:
    clause = exists().where(ImageMember.image_id == Image.id, ImageMember.member == project_id)
    if status is not None:
        clause = exists().where(
            ImageMember.image_id == Image.id,
            ImageMember.member == project_id,
            ImageMember.status == status,
        )
    return clause


def visible(ctx: RequestContext) -> ColumnElement[bool]:
    """The images ``ctx`` may see at all."""
    return _visible(ctx.is_admin, ctx.project_id)


def _visible(is_admin: bool, project_id: Any) -> ColumnElement[bool]:
    """``visible`` for a viewer's project (a value, or a bound parameter)."""
    if is_admin:
        return true()
    # Not ``in_``: its expanding parameter would take a boot's image read off the fast path.
    public = or_(Image.visibility == "public", Image.visibility == "community")
    if project_id is None:
        return public
    return or_(
        Image.owner == project_id,
        public,
        and_(Image.visibility == "shared", _membership(project_id)),
    )


def _listed(ctx: RequestContext, query: ListQuery) -> ColumnElement[bool]:
    """Of the visible images, those the list shows without being asked for them."""
    if ctx.is_admin or query.visibility == "all":
        return true()
    wanted = None if query.member_status == "all" else query.member_status
    return or_(
        Image.owner == ctx.project_id,
        Image.visibility == "public",
        and_(Image.visibility == "community", literal(query.visibility == "community")),
        and_(Image.visibility == "shared", _membership(ctx.project_id, wanted)),
    )


class ImageRow(NamedTuple):
    """An image as ``read_visible`` reads it: its columns and tags, as an ``Image`` shows
    them, without the ORM."""

    id: str
    name: str | None
    status: str
    visibility: str
    disk_format: str | None
    container_format: str | None
    size: int | None
    virtual_size: int | None
    checksum: str | None
    os_hash_algo: str | None
    os_hash_value: str | None
    min_disk: int
    min_ram: int
    protected: bool
    os_hidden: bool
    owner: str | None
    properties: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    tags: list[str]


async def get_visible(session: AsyncSession, ctx: RequestContext, image_id: str) -> Image:
    """The image, or ``ImageNotFound`` when it is missing or not the caller's to see."""
    shape, params = _get_params(ctx, image_id)
    image = await session.scalar(_get_statement(shape), params)
    if image is None:
        raise ImageNotFound(image_id=image_id)
    return image


async def read_visible(session: AsyncSession, ctx: RequestContext, image_id: str) -> ImageRow:
    """``get_visible`` for a caller that changes nothing (every boot reads its image so)."""
    shape, params = _get_params(ctx, image_id)
    row = (await run(session, _read_statement(shape), params)).first()
    if row is None:
        raise ImageNotFound(image_id=image_id)
    tags = await run(session, _TAGS, {"image_id": image_id})
    return ImageRow._make((*row, list(tags.scalars())))


def _get_params(ctx: RequestContext, image_id: str) -> tuple[str, dict[str, str | None]]:
    """The shape of ``ctx``'s query (``_get_clause``) and its bound values."""
    params: dict[str, str | None] = {"image_id": image_id}
    shape = "admin" if ctx.is_admin else "anonymous" if ctx.project_id is None else "project"
    if shape == "project":
        params["project_id"] = ctx.project_id
    return shape, params


def _get_clause(shape: str) -> ColumnElement[bool]:
    """The image by id, if an admin, a caller of no project, or one of a project (bound
    at execution) may see it."""
    project: Any = bindparam("project_id") if shape == "project" else None
    return and_(Image.id == bindparam("image_id"), _visible(shape == "admin", project))


@functools.lru_cache(maxsize=3)
def _get_statement(shape: str) -> Select[Image]:
    """``get_visible``'s query, built once: building and keying it costs more than running it."""
    return select(Image).where(_get_clause(shape))


@functools.lru_cache(maxsize=3)
def _read_statement(shape: str) -> Prepared:
    """``read_visible``'s query, built once."""
    columns = [getattr(Image, name) for name in ImageRow._fields[:-1]]
    return Prepared(select(*columns).where(_get_clause(shape)))


_TAGS = Prepared(
    select(ImageTag.value).where(ImageTag.image_id == bindparam("image_id")).order_by(ImageTag.id)
)


def _sort_column(key: str) -> ColumnElement[Any]:
    column = getattr(Image, key)
    if key == "updated_at":
        return func.coalesce(Image.updated_at, Image.created_at)
    if key in _INTEGERS:
        return func.coalesce(column, -1)
    if key in ("id", "created_at", "status", "visibility"):
        return column
    return func.coalesce(column, "")


def _time_clause(time: TimeFilter) -> ColumnElement[bool]:
    column = _sort_column(time.column)
    return {
        "eq": column == time.value,
        "neq": column != time.value,
        "gt": column > time.value,
        "gte": column >= time.value,
        "lt": column < time.value,
        "lte": column <= time.value,
    }[time.operator]


def _filters(query: ListQuery) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [
        getattr(Image, key).in_(values) for key, values in query.columns.items()
    ]
    if query.visibility not in (None, "all"):
        clauses.append(Image.visibility == query.visibility)
    if "protected" in query.booleans:
        clauses.append(Image.protected == query.booleans["protected"])
    clauses.append(Image.os_hidden == query.booleans.get("os_hidden", False))
    clauses += [
        exists().where(ImageTag.image_id == Image.id, ImageTag.value == tag) for tag in query.tags
    ]
    clauses += [
        Image.properties[key].as_string() == value for key, value in query.properties.items()
    ]
    if query.size_min is not None:
        clauses.append(Image.size >= query.size_min)
    if query.size_max is not None:
        clauses.append(Image.size <= query.size_max)
    clauses += [_time_clause(t) for t in query.times]
    return clauses


def _order(query: ListQuery) -> list[tuple[ColumnElement[Any], bool]]:
    """The sort expressions with their direction, ending on the unique id."""
    order = [(_sort_column(key), descending) for key, descending in query.sort]
    if "id" not in [key for key, _ in query.sort]:
        order.append((_sort_column("id"), query.sort[-1][1]))
    return order


def _after(
    order: Sequence[tuple[ColumnElement[Any], bool]], bound: Sequence[Any]
) -> ColumnElement[bool]:
    """Rows strictly after the row whose sort values are ``bound``."""
    clauses = []
    for i, (column, descending) in enumerate(order):
        equal = [c == v for (c, _), v in zip(order[:i], bound[:i], strict=True)]
        beyond = column < bound[i] if descending else column > bound[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses) if clauses else false()


async def _marker_bound(
    session: AsyncSession,
    ctx: RequestContext,
    marker: str,
    order: Sequence[tuple[ColumnElement[Any], bool]],
) -> Sequence[Any]:
    """The marker's sort values; a marker the caller cannot see is as one that does not exist."""
    row = (
        await session.execute(
            select(*[column for column, _ in order]).where(Image.id == marker, visible(ctx))
        )
    ).first()
    if row is None:
        raise exception.Invalid(f"No image found with ID {marker}")
    return tuple(row)


def _statement(ctx: RequestContext, query: ListQuery) -> Select[Image]:
    return select(Image).where(visible(ctx), _listed(ctx, query), *_filters(query))


async def list_images(
    session: AsyncSession, ctx: RequestContext, query: ListQuery
) -> tuple[list[Image], bool]:
    """One page of the images the list shows ``ctx``, and whether more follow."""
    order = _order(query)
    stmt = _statement(ctx, query)
    if query.marker is not None:
        stmt = stmt.where(_after(order, await _marker_bound(session, ctx, query.marker, order)))
    stmt = stmt.order_by(*[c.desc() if d else c.asc() for c, d in order]).limit(query.limit + 1)
    images = list((await session.scalars(stmt)).all())
    return images[: query.limit], len(images) > query.limit
