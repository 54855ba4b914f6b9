"""``/os-aggregates``: host aggregates. cumulo groups hosts only by availability zone (a
node's ``availability_zone``), so the list is empty; ``openstack hypervisor show``
reads it to show a host's aggregates."""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request

from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.compute import http
from cumulo.compute.http import Route
from cumulo.context import RequestContext


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "compute:aggregates:index")
    return JSON({"aggregates": []})


ROUTES: tuple[Route, ...] = (Route("GET", "/v2.1/os-aggregates", index, "aggregates:index"),)
