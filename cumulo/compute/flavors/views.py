"""Flavor response bodies, shaped by the request's microversion."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from cumulo.api.microversion import APIVersion
from cumulo.compute.flavors.db import AnyFlavor, extra_specs
from cumulo.compute.http import resource_links
from cumulo.compute.microversions import Feature, supports

COLLECTION = "flavors"


def brief(request: Request, flavor: AnyFlavor, version: APIVersion) -> dict[str, Any]:
    """A flavor in ``GET /flavors``: id, name, links (and description from 2.55)."""
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": resource_links(request, COLLECTION, flavor.flavorid),
    }
    if supports(version, Feature.FLAVOR_DESCRIPTION):
        body["description"] = flavor.description
    return body


def detail(
    request: Request, flavor: AnyFlavor, version: APIVersion, with_extra_specs: bool
) -> dict[str, Any]:
    """A whole flavor, as ``GET /flavors/{id}``, ``/flavors/detail`` and writes show it.

    ``with_extra_specs`` is whether the caller may read extra specs (2.61+).
    """
    swap_zero = supports(version, Feature.FLAVOR_SWAP_ZERO)
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "ram": flavor.memory_mb,
        "disk": flavor.root_gb,
        "swap": flavor.swap or (0 if swap_zero else ""),
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": flavor.disabled,
        "vcpus": flavor.vcpus,
        "os-flavor-access:is_public": flavor.is_public,
        "rxtx_factor": flavor.rxtx_factor or "",
        "links": resource_links(request, COLLECTION, flavor.flavorid),
    }
    if supports(version, Feature.FLAVOR_DESCRIPTION):
        body["description"] = flavor.description
    if with_extra_specs and supports(version, Feature.FLAVOR_EXTRA_SPECS):
        body["extra_specs"] = extra_specs(flavor)
    return body


def access_list(flavor: AnyFlavor, projects: list[str]) -> dict[str, Any]:
    return {
        "flavor_access": [
            {"flavor_id": flavor.flavorid, "tenant_id": project} for project in projects
        ]
    }
