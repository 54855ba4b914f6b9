"""``GET /limits``: a project's absolute limits and what it uses of them; no rate limits."""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request

from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.microversion import APIVersion
from cumulo.compute import http, query
from cumulo.compute import quota as quotas
from cumulo.compute.microversions import Feature, supports
from cumulo.context import RequestContext

_NETWORK = Feature.LIMITS_WITHOUT_NETWORK
_PERSONALITY = Feature.LIMITS_WITHOUT_PERSONALITY

# (Nova's name, quota resource, the feature that hides it)
ABSOLUTE: tuple[tuple[str, str, Feature | None], ...] = (
    ("maxTotalRAMSize", "ram", None),
    ("maxTotalInstances", "instances", None),
    ("maxTotalCores", "cores", None),
    ("maxTotalKeypairs", "key_pairs", None),
    ("maxTotalFloatingIps", "floating_ips", _NETWORK),
    ("maxServerMeta", "metadata_items", None),
    ("maxImageMeta", "metadata_items", Feature.LIMITS_WITHOUT_IMAGE_META),
    ("maxPersonality", "injected_files", _PERSONALITY),
    ("maxPersonalitySize", "injected_file_content_bytes", _PERSONALITY),
    ("maxSecurityGroups", "security_groups", _NETWORK),
    ("maxSecurityGroupRules", "security_group_rules", _NETWORK),
    ("maxServerGroups", "server_groups", None),
    ("maxServerGroupMembers", "server_group_members", None),
)
USED: tuple[tuple[str, str, Feature | None], ...] = (
    ("totalRAMUsed", "ram", None),
    ("totalCoresUsed", "cores", None),
    ("totalInstancesUsed", "instances", None),
    ("totalFloatingIpsUsed", "floating_ips", _NETWORK),
    ("totalSecurityGroupsUsed", "security_groups", _NETWORK),
    ("totalServerGroupsUsed", "server_groups", None),
)

QUERY: dict[str, query.Check] = {"tenant_id": query.any_string}


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    version = http.version(request)
    params = query.validate_query(request, QUERY, supports(version, Feature.STRICT_QUERY))
    policy.enforce(ctx, "compute:limits", {})
    project_id = ctx.project_id
    if "tenant_id" in params:
        project_id = query.last(params, "tenant_id")
        policy.enforce(ctx, "compute:limits:other_project", {"project_id": project_id})
    async with http.db(request).read() as session:
        limits = await quotas.project_limits(session, http.settings(request), project_id)
        usage = await quotas.project_usage(session, project_id)
    absolute = _pick(version, ABSOLUTE, limits) | _pick(version, USED, usage)
    return JSON({"limits": {"rate": [], "absolute": absolute}})


def _pick(
    version: APIVersion, names: tuple[tuple[str, str, Feature | None], ...], values: dict[str, int]
) -> dict[str, int]:
    """``values`` under Nova's names, without those ``version`` hides."""
    return {
        name: values.get(resource, 0)
        for name, resource, hidden_by in names
        if hidden_by is None or not supports(version, hidden_by)
    }
