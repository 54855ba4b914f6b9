"""``/v2.0/extensions``: the API extensions this service implements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.context import RequestContext
from cumulo.network.errors import ExtensionNotFound

router = APIRouter()
Ctx = Annotated[RequestContext, Depends(context)]

SUPPORTED = {
    "external-net": "Neutron external network",
    "provider": "Provider Network",
    "binding": "Port Binding",
    "port-security": "Port Security",
    "allowed-address-pairs": "Allowed Address Pairs",
    "extra_dhcp_opt": "Neutron Extra DHCP options",
    "standard-attr-description": "standard-attr-description",
    "standard-attr-timestamp": "Resource timestamps",
    "standard-attr-revisions": "Resource revision numbers",
    "standard-attr-tag": "Tag support for resources with standard attribute: port, subnet, network",
    "net-mtu": "Network MTU",
    "quotas": "Quota management support",
    "quota_details": "Quota details management support",
    "security-group": "security-group",
    "project-id": "project_id field enabled",
    "pagination": "Pagination support",
    "sorting": "Sorting support",
    "router": "Neutron L3 Router",
    "ext-gw-mode": "Neutron L3 Configurable external gateway mode",
    "fip-port-details": "Floating IP Port Details Extension",
}


def _extension(alias: str, name: str) -> dict[str, object]:
    return {
        "alias": alias,
        "name": name,
        "description": name,
        "updated": "2013-01-01T10:00:00-00:00",
        "links": [],
    }


@router.get("/v2.0/extensions")
async def list_extensions(ctx: Ctx) -> JSON:
    return JSON({"extensions": [_extension(a, n) for a, n in SUPPORTED.items()]})


@router.get("/v2.0/extensions/{alias}")
async def show_extension(alias: str, ctx: Ctx) -> JSON:
    if alias not in SUPPORTED:
        raise ExtensionNotFound(extension_alias=alias)
    return JSON({"extension": _extension(alias, SUPPORTED[alias])})
