"""``/os-hypervisors``: the compute nodes, their state and (before 2.88) their resources.

Admin-only. 2.33 pages lists with ``limit``/``marker``; 2.53 names nodes by
uuid and replaces the ``/{pattern}/search`` and ``/{pattern}/servers`` routes
with the ``hypervisor_hostname_pattern`` and ``with_servers`` parameters;
2.88 retires ``/statistics`` and ``/{id}/uptime``. A node whose host has no
``nova-compute`` service (deleted) is left out of lists, as Nova leaves it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cumulo import exception
from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.microversion import APIVersion
from cumulo.compute import errors, http
from cumulo.compute.http import Route
from cumulo.compute.hypervisors import db, params, views
from cumulo.compute.hypervisors.db import NodeUsage
from cumulo.compute.hypervisors.errors import (
    ComputeServiceUnavailable,
    FeatureNotSupported,
    NoHypervisorMatching,
)
from cumulo.compute.hypervisors.views import Hypervisor
from cumulo.compute.services import db as services_db
from cumulo.compute.services.ids import is_integer, is_uuid_like, uses_uuids
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.hosts import ComputeNode

V2_33 = APIVersion.parse("2.33")
V2_88 = APIVersion.parse("2.88")
_RETIRED = "The resource could not be found."


async def _hypervisors(
    request: Request,
    session: AsyncSession,
    nodes: list[ComputeNode],
    *,
    with_usage: bool = False,
    with_servers: bool = False,
) -> list[Hypervisor]:
    """The nodes that still have a compute service, with its state (and usage, servers)."""
    settings, now = http.settings(request), utcnow()
    hosts = {n.host for n in nodes}
    services = await services_db.compute_services(session, hosts)
    usage = await db.node_usage(session, nodes) if with_usage else {}
    servers = await db.instances_on_hosts(session, hosts) if with_servers else {}
    return [
        Hypervisor(
            node=node,
            service=services[node.host],
            up=services_db.service_is_up(services[node.host], now, settings.service_down_time),
            usage=usage.get(node.id, NodeUsage()),
            servers=servers.get(node.host),
        )
        for node in nodes
        if node.host in services
    ]


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    return await _list(request, ctx, detail=False)


async def detail(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    return await _list(request, ctx, detail=True)


async def _list(request: Request, ctx: RequestContext, *, detail: bool) -> JSON:
    version = http.version(request)
    asked = params.list_query(request, version)
    policy.enforce(ctx, "compute:hypervisors:list-detail" if detail else "compute:hypervisors:list")
    if asked.pattern is not None and ("limit" in asked.params or asked.marker):
        raise exception.Invalid(
            "Paging over hypervisors with the hypervisor_hostname_pattern query parameter "
            "is not supported."
        )
    async with http.db(request).read() as session:
        if asked.pattern is not None:
            nodes = await _matching(session, asked.pattern)
        else:
            nodes = await db.list_nodes(session, asked.limit, asked.marker)
        found = await _hypervisors(
            request, session, nodes, with_usage=detail, with_servers=asked.with_servers
        )
    view = views.detail if detail else views.brief
    listed = [view(hv, version, asked.with_servers) for hv in found]
    body: dict[str, Any] = {"hypervisors": listed}
    if version >= V2_33 and asked.pattern is None:
        collection = "os-hypervisors/detail" if detail else "os-hypervisors"
        links = http.collection_links(request, collection, listed, asked.params, _id)
        if links:
            body["hypervisors_links"] = links
    return JSON(body)


def _id(hypervisor: dict[str, Any]) -> str:
    return str(hypervisor["id"])


async def _matching(session: AsyncSession, pattern: str) -> list[ComputeNode]:
    nodes = await db.search_nodes(session, pattern)
    if not nodes:
        raise NoHypervisorMatching(pattern=pattern)
    return nodes


def _check_id(version: APIVersion, hypervisor_id: str) -> None:
    """A uuid from 2.53 (else 400), an integer before (else the 404 of a missing node)."""
    if uses_uuids(version):
        if not is_uuid_like(hypervisor_id):
            raise exception.Invalid(f"Invalid uuid {hypervisor_id}")
    elif not is_integer(hypervisor_id):
        raise errors.HypervisorNotFound(hypervisor_id=hypervisor_id)


async def _one(
    request: Request, session: AsyncSession, hypervisor_id: str, with_servers: bool = False
) -> Hypervisor:
    by_uuid = uses_uuids(http.version(request))
    node = await db.get_node(session, hypervisor_id, by_uuid)
    found = await _hypervisors(request, session, [node], with_usage=True, with_servers=with_servers)
    if not found:
        raise errors.HypervisorNotFound(hypervisor_id=hypervisor_id)
    return found[0]


async def show(
    request: Request, hypervisor_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    version = http.version(request)
    with_servers = params.show_query(request, version)
    policy.enforce(ctx, "compute:hypervisors:show")
    _check_id(version, hypervisor_id)
    async with http.db(request).read() as session:
        hv = await _one(request, session, hypervisor_id, with_servers)
    return JSON({"hypervisor": views.detail(hv, version, with_servers)})


def _retired_at(request: Request, version: APIVersion) -> APIVersion:
    """The request's version, or Nova's 404 when the route is gone at it."""
    asked = http.version(request)
    if asked >= version:
        raise exception.NotFound(_RETIRED)
    return asked


async def uptime(
    request: Request, hypervisor_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    """Before 2.88. No cumulo driver reports its host's uptime: Nova's 501 for such drivers."""
    version = _retired_at(request, V2_88)
    policy.enforce(ctx, "compute:hypervisors:uptime")
    _check_id(version, hypervisor_id)
    async with http.db(request).read() as session:
        hv = await _one(request, session, hypervisor_id)
    if not hv.up:
        raise ComputeServiceUnavailable(host=hv.node.host)
    raise FeatureNotSupported()


async def search(
    request: Request, pattern: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    """Before 2.53: the nodes whose hostname contains ``pattern``."""
    version = _retired_at(request, params.V2_53)
    policy.enforce(ctx, "compute:hypervisors:search")
    async with http.db(request).read() as session:
        found = await _hypervisors(request, session, await _matching(session, pattern))
    return JSON({"hypervisors": [views.brief(hv, version) for hv in found]})


async def servers(
    request: Request, pattern: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    """Before 2.53: the matching nodes with the servers on their hosts."""
    version = _retired_at(request, params.V2_53)
    policy.enforce(ctx, "compute:hypervisors:servers")
    async with http.db(request).read() as session:
        nodes = await _matching(session, pattern)
        found = await _hypervisors(request, session, nodes, with_servers=True)
    return JSON({"hypervisors": [views.brief(hv, version) for hv in found]})


async def statistics(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    """Before 2.88: the resources of the enabled compute nodes, summed."""
    _retired_at(request, V2_88)
    policy.enforce(ctx, "compute:hypervisors:statistics")
    async with http.db(request).read() as session:
        nodes = await db.enabled_compute_nodes(session)
        usage = await db.node_usage(session, nodes)
    totals = views.statistics([(node, usage[node.id]) for node in nodes])
    return JSON({"hypervisor_statistics": totals})


_HYPERVISORS = "/v2.1/os-hypervisors"

ROUTES: tuple[Route, ...] = (
    Route("GET", _HYPERVISORS, index, "hypervisors:index"),
    Route("GET", _HYPERVISORS + "/detail", detail, "hypervisors:detail"),
    Route("GET", _HYPERVISORS + "/statistics", statistics, "hypervisors:statistics"),
    Route("GET", _HYPERVISORS + "/{hypervisor_id}", show, "hypervisors:show"),
    Route("GET", _HYPERVISORS + "/{hypervisor_id}/uptime", uptime, "hypervisors:uptime"),
    Route("GET", _HYPERVISORS + "/{pattern}/search", search, "hypervisors:search"),
    Route("GET", _HYPERVISORS + "/{pattern}/servers", servers, "hypervisors:servers"),
)
