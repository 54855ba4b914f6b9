"""``/os-availability-zone``: the zones servers may be placed in.

Until hosts register, the one zone is the configured default one, with no
hosts to show in the admin's detail view.
"""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request

from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.compute import http
from cumulo.context import RequestContext


def _zones(request: Request, hosts: dict[str, object] | None) -> JSON:
    zone = http.settings(request).default_availability_zone
    listed = [{"zoneName": zone, "zoneState": {"available": True}, "hosts": hosts}]
    return JSON({"availabilityZoneInfo": listed})


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "compute:availability_zone:list", {})
    return _zones(request, None)


async def detail(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    """The admin's view: each zone's hosts and their services (none registered yet)."""
    policy.enforce(ctx, "compute:availability_zone:detail", {})
    return _zones(request, {})
