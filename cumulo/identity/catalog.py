"""The service catalog: regions, services and endpoints, and the catalog a token carries.

The enabled services with their enabled endpoints are read in one query and
kept for ``token_cache_seconds`` (they change rarely; a change made in this
process drops the copy at once). ``$(project_id)s`` in an endpoint URL is
replaced by the token's project; an endpoint whose URL needs a value the
token does not have (a domain-scoped token has no project) is left out, as
Keystone does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import Database
from cumulo.db.base import new_hex_id
from cumulo.db.models.identity import Endpoint, Region, Service
from cumulo.identity.errors import (
    DuplicateEntry,
    EndpointNotFound,
    ExpectingToFind,
    RegionInUse,
    RegionNotFound,
    ServiceNotFound,
)
from cumulo.identity.schemas import EndpointCreate, RegionCreate, ServiceCreate

_SUBSTITUTION = re.compile(r"\$\((\w+)\)s")


@dataclass(frozen=True)
class CatalogEndpoint:
    id: str
    interface: str
    region_id: str | None
    url: str


@dataclass(frozen=True)
class CatalogService:
    id: str
    type: str
    name: str
    endpoints: tuple[CatalogEndpoint, ...]


async def load_catalog(session: AsyncSession) -> list[CatalogService]:
    rows = await session.execute(
        select(
            Service.id,
            Service.type,
            Service.name,
            Endpoint.id,
            Endpoint.interface,
            Endpoint.region_id,
            Endpoint.url,
        )
        .outerjoin(Endpoint, and_(Endpoint.service_id == Service.id, Endpoint.enabled == true()))
        .where(Service.enabled == true())
        .order_by(Service.type, Service.id, Endpoint.interface, Endpoint.id)
    )
    services: dict[str, tuple[str, str, list[CatalogEndpoint]]] = {}
    for sid, stype, sname, eid, interface, region_id, url in rows:
        entry = services.setdefault(sid, (stype, sname, []))
        if eid is not None:
            entry[2].append(CatalogEndpoint(eid, interface, region_id, url))
    return [CatalogService(sid, t, n, tuple(eps)) for sid, (t, n, eps) in services.items()]


class CatalogCache:
    def __init__(self, db: Database, seconds: float) -> None:
        self.db = db
        self.seconds = seconds
        self._value: list[CatalogService] | None = None
        self._deadline = 0.0

    async def get(self) -> list[CatalogService]:
        if self._value is not None and time.monotonic() < self._deadline:
            return self._value
        async with self.db.read() as session:
            value = await load_catalog(session)
        self._value, self._deadline = value, time.monotonic() + self.seconds
        return value

    def invalidate(self) -> None:
        self._value = None


def substitute(url: str, values: dict[str, str | None]) -> str | None:
    """``url`` with ``$(name)s`` filled in, or None if a value is missing."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1))
        if value is None:
            missing = True
            return ""
        return value

    result = _SUBSTITUTION.sub(fill, url)
    return None if missing else result


def render_catalog(services: list[CatalogService], project_id: str | None) -> list[dict[str, Any]]:
    values = {"project_id": project_id, "tenant_id": project_id}
    catalog = []
    for service in services:
        endpoints = []
        for ep in service.endpoints:
            url = substitute(ep.url, values)
            if url is not None:
                endpoints.append(
                    {
                        "id": ep.id,
                        "interface": ep.interface,
                        "region": ep.region_id,
                        "region_id": ep.region_id,
                        "url": url,
                    }
                )
        catalog.append(
            {"endpoints": endpoints, "id": service.id, "type": service.type, "name": service.name}
        )
    return catalog


async def get_service(session: AsyncSession, service_id: str) -> Service:
    service = await session.get(Service, service_id)
    if service is None:
        raise ServiceNotFound(service_id=service_id)
    return service


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> Endpoint:
    endpoint = await session.get(Endpoint, endpoint_id)
    if endpoint is None:
        raise EndpointNotFound(endpoint_id=endpoint_id)
    return endpoint


async def get_region(session: AsyncSession, region_id: str) -> Region:
    region = await session.get(Region, region_id)
    if region is None:
        raise RegionNotFound(region_id=region_id)
    return region


async def delete_service(session: AsyncSession, service_id: str) -> None:
    await get_service(session, service_id)
    await session.execute(delete(Endpoint).where(Endpoint.service_id == service_id))
    await session.execute(delete(Service).where(Service.id == service_id))


async def delete_endpoint(session: AsyncSession, endpoint_id: str) -> None:
    await get_endpoint(session, endpoint_id)
    await session.execute(delete(Endpoint).where(Endpoint.id == endpoint_id))


async def list_rows(
    session: AsyncSession, model: Any, params: Mapping[str, str], names: Sequence[str]
) -> list[Any]:
    stmt = select(model)
    for name in names:
        if name in params:
            stmt = stmt.where(getattr(model, name) == params[name])
    return list((await session.scalars(stmt.order_by(model.id))).all())


async def create_service(session: AsyncSession, body: ServiceCreate) -> Service:
    service = Service(
        type=body.type, name=body.name or "", description=body.description, enabled=body.enabled
    )
    session.add(service)
    await session.flush()
    return service


async def create_endpoint(session: AsyncSession, body: EndpointCreate) -> Endpoint:
    if await session.get(Service, body.service_id) is None:
        raise ExpectingToFind(attribute="endpoint service", target="services table")
    region_id = body.region_id
    if region_id is None and body.region is not None:
        region_id = body.region  # the v2-era key: Keystone creates the region
        if await session.get(Region, region_id) is None:
            session.add(Region(id=region_id, description=""))
            await session.flush()
    elif region_id is not None and await session.get(Region, region_id) is None:
        raise ExpectingToFind(attribute="endpoint region_id", target="region table")
    endpoint = Endpoint(
        service_id=body.service_id,
        interface=body.interface,
        url=body.url,
        region_id=region_id,
        enabled=body.enabled,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def create_region(session: AsyncSession, body: RegionCreate) -> Region:
    if body.parent_region_id is not None:
        await get_region(session, body.parent_region_id)
    region = Region(
        id=body.id or new_hex_id(),
        description=body.description or "",
        parent_region_id=body.parent_region_id,
    )
    session.add(region)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise DuplicateEntry.named("region", region.id, field="ID") from exc
    return region


async def delete_region(session: AsyncSession, region_id: str) -> None:
    await get_region(session, region_id)
    children = select(Region.id).where(Region.parent_region_id == region_id)
    used = await session.scalar(
        select(Endpoint.id)
        .where(or_(Endpoint.region_id == region_id, Endpoint.region_id.in_(children)))
        .limit(1)
    )
    if used is not None:
        raise RegionInUse(region_id=region_id)
    await session.execute(delete(Region).where(Region.id == region_id))
