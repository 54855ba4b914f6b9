"""Flavor rows: who sees which, listing, creation, extra specs and project access.

A caller who is not an admin sees public flavors and the private ones its
project was given access to; everything else is "not found", as in Nova.
Lists are sorted and paged in Python: a cloud has tens of flavors, and this
keeps NULL ordering and string comparison the same on every database engine.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api import pagination
from cumulo.compute import errors
from cumulo.context import RequestContext
from cumulo.db.engine import conflict_on_duplicate
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.compute import Flavor, FlavorExtraSpec, FlavorProject


@dataclass(frozen=True)
class Viewer:
    """Whose eyes a flavor query looks through."""

    project_id: str | None
    is_admin: bool

    @classmethod
    def of(cls, ctx: RequestContext) -> Viewer:
        return cls(ctx.project_id, ctx.is_admin)


@dataclass(frozen=True)
class FlavorFilters:
    is_public: bool | None = True
    disabled: bool | None = None
    min_memory_mb: int | None = None
    min_root_gb: int | None = None


@dataclass(frozen=True)
class FlavorPage:
    sort_key: str = "flavorid"
    descending: bool = False
    limit: int | None = None
    marker: str | None = None


def _granted(project_id: str | None) -> Any:
    projects = select(FlavorProject.flavor_id).where(FlavorProject.project_id == project_id)
    return Flavor.id.in_(projects)


def _visible(viewer: Viewer) -> Select[Flavor]:
    stmt = select(Flavor)
    if not viewer.is_admin:
        stmt = stmt.where(or_(Flavor.is_public.is_(True), _granted(viewer.project_id)))
    return stmt


class ExtraSpec(NamedTuple):
    key: str
    value: str


class FlavorRow(NamedTuple):
    """A flavor as ``get_flavor`` reads it: its columns and extra specs, as a ``Flavor``
    shows them, without the ORM (the flavor of every boot is read so)."""

    id: int
    flavorid: str
    name: str
    memory_mb: int
    vcpus: int
    root_gb: int
    ephemeral_gb: int
    swap: int
    rxtx_factor: float
    vcpu_weight: int | None
    disabled: bool
    is_public: bool
    description: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    extra_specs: Sequence[ExtraSpec]


AnyFlavor = Flavor | FlavorRow
"""What the views and ``extra_specs`` read: a row of ``get_flavor`` or a listed ``Flavor``."""


async def get_flavor(session: AsyncSession, viewer: Viewer, flavorid: str) -> FlavorRow:
    params: dict[str, str | None] = {"flavorid": flavorid}
    if not viewer.is_admin:
        params["project_id"] = viewer.project_id
    row = (await run(session, _get_statement(viewer.is_admin), params)).first()
    if row is None:
        raise errors.FlavorNotFound(flavor_id=flavorid)
    specs = await run(session, _EXTRA_SPECS, {"flavor_id": row.id})
    return FlavorRow._make((*row, [ExtraSpec(*spec) for spec in specs]))


@functools.lru_cache(maxsize=2)
def _get_statement(is_admin: bool) -> Prepared:
    """``get_flavor``'s query, built once (building and keying it costs more than running
    it); a viewer's project is bound at execution."""
    stmt = select(*[getattr(Flavor, name) for name in FlavorRow._fields[:-1]])
    if not is_admin:
        granted = select(FlavorProject.flavor_id).where(
            FlavorProject.project_id == bindparam("project_id")
        )
        stmt = stmt.where(or_(Flavor.is_public.is_(True), Flavor.id.in_(granted)))
    return Prepared(stmt.where(Flavor.flavorid == bindparam("flavorid")).order_by(Flavor.id))


_EXTRA_SPECS = Prepared(
    select(FlavorExtraSpec.key, FlavorExtraSpec.value).where(
        FlavorExtraSpec.flavor_id == bindparam("flavor_id")
    )
)
_SET_DESCRIPTION = Prepared(
    update(Flavor)
    .where(Flavor.id == bindparam("flavor_id"))
    .values(description=bindparam("description"))
)
_ADD_EXTRA_SPEC = Prepared(insert(FlavorExtraSpec))
_SET_EXTRA_SPEC = Prepared(
    update(FlavorExtraSpec)
    .where(
        FlavorExtraSpec.flavor_id == bindparam("spec_flavor_id"),
        FlavorExtraSpec.key == bindparam("spec_key"),
    )
    .values(value=bindparam("spec_value"))
)
_DELETE_EXTRA_SPEC = Prepared(
    delete(FlavorExtraSpec).where(
        FlavorExtraSpec.flavor_id == bindparam("flavor_id"),
        FlavorExtraSpec.key == bindparam("spec_key"),
    )
)


async def list_flavors(
    session: AsyncSession, viewer: Viewer, filters: FlavorFilters, page: FlavorPage
) -> list[Flavor]:
    """One page of the flavors ``viewer`` sees that pass ``filters``."""
    stmt = _visible(viewer)
    if filters.min_memory_mb is not None:
        stmt = stmt.where(Flavor.memory_mb >= filters.min_memory_mb)
    if filters.min_root_gb is not None:
        stmt = stmt.where(Flavor.root_gb >= filters.min_root_gb)
    if filters.disabled is not None:
        stmt = stmt.where(Flavor.disabled.is_(filters.disabled))
    if filters.is_public is not None:
        public: ColumnElement[bool] = Flavor.is_public.is_(filters.is_public)
        if filters.is_public and viewer.project_id is not None:
            public = or_(public, _granted(viewer.project_id))
        stmt = stmt.where(public)
    key = pagination.nulls_first(page.sort_key)
    rows = pagination.sort_rows(await session.scalars(stmt), key, page.descending)
    if page.marker is not None:
        marker = await session.scalar(_visible(viewer).where(Flavor.flavorid == page.marker))
        if marker is None:
            raise errors.FlavorMarkerNotFound(marker=page.marker)
        rows = pagination.rows_after(rows, key, marker, page.descending)
    return rows if page.limit is None else rows[: page.limit]


async def create_flavor(session: AsyncSession, values: dict[str, Any]) -> Flavor:
    """Insert a flavor; a taken id or name is a 409 worded as Nova's."""
    taken = (
        await session.scalars(
            select(Flavor).where(
                or_(Flavor.flavorid == values["flavorid"], Flavor.name == values["name"])
            )
        )
    ).all()
    if any(other.flavorid == values["flavorid"] for other in taken):
        raise errors.FlavorIdExists(flavor_id=values["flavorid"])
    if taken:
        raise errors.FlavorExists(name=values["name"])
    flavor = Flavor(**values, extra_specs=[])
    async with conflict_on_duplicate(f"Flavor with name {values['name']} already exists."):
        session.add(flavor)
        await session.flush()
    return flavor


async def delete_flavor(session: AsyncSession, flavorid: str) -> None:
    flavor = (await session.scalars(select(Flavor).where(Flavor.flavorid == flavorid))).first()
    if flavor is None:
        raise errors.FlavorNotFound(flavor_id=flavorid)
    await session.execute(delete(FlavorProject).where(FlavorProject.flavor_id == flavor.id))
    await session.delete(flavor)


def extra_specs(flavor: AnyFlavor) -> dict[str, str]:
    return {spec.key: spec.value for spec in flavor.extra_specs}


async def set_description(
    session: AsyncSession, flavor: FlavorRow, description: str | None
) -> FlavorRow:
    """Describe the flavor; the flavor as it now is."""
    if description == flavor.description:
        return flavor
    await run(session, _SET_DESCRIPTION, {"flavor_id": flavor.id, "description": description})
    return flavor._replace(description=description)


async def merge_extra_specs(
    session: AsyncSession, flavor: FlavorRow, specs: dict[str, str]
) -> None:
    """Add ``specs`` to the flavor's extra specs, replacing the values of keys it has."""
    existing = extra_specs(flavor)
    for key, value in specs.items():
        if key not in existing:
            await run(
                session, _ADD_EXTRA_SPEC, {"flavor_id": flavor.id, "key": key, "value": value}
            )
        elif existing[key] != value:
            await run(
                session,
                _SET_EXTRA_SPEC,
                {"spec_flavor_id": flavor.id, "spec_key": key, "spec_value": value},
            )


async def delete_extra_spec(session: AsyncSession, flavor: FlavorRow, key: str) -> bool:
    """Remove one extra spec; False when the flavor has no such key."""
    if key not in extra_specs(flavor):
        return False
    await run(session, _DELETE_EXTRA_SPEC, {"flavor_id": flavor.id, "spec_key": key})
    return True


async def projects_of(session: AsyncSession, flavor: AnyFlavor) -> list[str]:
    rows = await session.scalars(
        select(FlavorProject.project_id)
        .where(FlavorProject.flavor_id == flavor.id)
        .order_by(FlavorProject.id)
    )
    return list(rows)


async def add_project(session: AsyncSession, flavor: FlavorRow, project_id: str) -> None:
    if project_id in await projects_of(session, flavor):
        raise errors.FlavorAccessExists(flavor_id=flavor.id, project_id=project_id)
    message = errors.FlavorAccessExists(flavor_id=flavor.id, project_id=project_id).msg
    async with conflict_on_duplicate(message):
        session.add(FlavorProject(flavor_id=flavor.id, project_id=project_id))
        await session.flush()


async def remove_project(session: AsyncSession, flavor: FlavorRow, project_id: str) -> None:
    result = await session.execute(
        delete(FlavorProject).where(
            FlavorProject.flavor_id == flavor.id, FlavorProject.project_id == project_id
        )
    )
    if not getattr(result, "rowcount", 0):
        raise errors.FlavorAccessNotFound(flavor_id=flavor.id, project_id=project_id)
