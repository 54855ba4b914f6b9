"""``POST /servers`` and ``DELETE /servers/{id}`` (Nova's ``ServersController``).

The handlers parse and check the request; ``cumulo.compute.api.API`` does the
work. The read side (list, show, update) is ``servers/read.py``, the server
actions ``servers/actions.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.compute import block_device, http
from cumulo.compute.api import API
from cumulo.compute.create_request import CreateRequest, parse_availability_zone
from cumulo.compute.http import Route
from cumulo.compute.servers import schemas
from cumulo.compute.validation import validate_body
from cumulo.context import RequestContext
from cumulo.exception import Invalid
from cumulo.network.messages import NetworkRequest, RequestedNetworks

COLLECTION = "servers"


def compute_api(request: Request) -> API:
    state = request.app.state
    api: API | None = getattr(state, "compute_api", None)
    if api is None:
        api = state.compute_api = API(http.runtime(request))
    return api


def _requested_networks(networks: Any) -> RequestedNetworks:
    if networks in (None, "auto", "none"):
        return networks
    requested: list[NetworkRequest] = []
    seen_ports: set[str] = set()
    for item in networks:
        if item.port and item.fixed_ip:
            raise Invalid(
                f"Specified Fixed IP '{item.fixed_ip}' cannot be used with port '{item.port}': "
                "the two cannot be specified together."
            )
        if item.port:
            if item.port in seen_ports:
                raise Invalid(
                    f"Port ID '{item.port}' was specified twice: it can only be used once."
                )
            seen_ports.add(item.port)
        elif not item.uuid:
            raise Invalid("Bad network format: missing 'uuid'")
        requested.append(
            NetworkRequest(
                network_id=None if item.port else item.uuid,
                port_id=item.port,
                fixed_ip=item.fixed_ip,
                tag=item.tag,
            )
        )
    return requested


async def create(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    version = http.version(request)
    raw = await read_json(request, http.runtime(request).settings.api.max_body_bytes)
    schemas.check_version(raw, version)
    body = validate_body(schemas.CreateBody, raw)
    server = body.server
    zone, host, node = parse_availability_zone(ctx, server.availability_zone)
    if (server.host or server.hypervisor_hostname) and (host or node):
        raise Invalid(
            "One mechanism with host and/or hypervisor_hostname and another mechanism with "
            "zone:host:node are mutually exclusive."
        )
    if server.host or server.hypervisor_hostname:
        policy.enforce(
            ctx, "compute:servers:create:requested_destination", {"project_id": ctx.project_id}
        )
    if server.hostname and server.max_count > 1:
        raise Invalid("Unable to allocate a single hostname to multiple instances")
    devices = block_device.from_api(server.block_device_mapping_v2 or [], server.imageRef)
    hints = {k: v for k, v in body.hints().items() if not k.startswith("_nova")}
    req = CreateRequest(
        name=server.name.strip(),
        flavor_id=server.flavorRef,
        image_href=server.imageRef,
        min_count=server.min_count,
        max_count=server.max_count,
        requested_networks=_requested_networks(server.networks),
        key_name=server.key_name,
        security_groups=[g.name for g in server.security_groups or []],
        user_data=server.user_data,
        metadata=server.metadata,
        availability_zone=zone,
        forced_host=host or server.host,
        forced_node=node or server.hypervisor_hostname,
        block_devices=devices,
        scheduler_hints=hints,
        config_drive=server.config_drive,
        description=server.description,
        tags=server.tags or [],
        hostname=server.hostname,
        admin_password=server.adminPass,
        access_ip_v4=server.accessIPv4,
        access_ip_v6=server.accessIPv6,
        auto_disk_config=server.disk_config == "AUTO",
    )
    uuids, reservation_id, password = await compute_api(request).create(ctx, req)
    if server.return_reservation_id:
        return JSON({"reservation_id": reservation_id}, 202)
    links = http.resource_links(request, COLLECTION, uuids[0])
    shown: dict[str, Any] = {
        "id": uuids[0],
        "links": links,
        "OS-DCF:diskConfig": "AUTO" if req.auto_disk_config else "MANUAL",
        "security_groups": [{"name": name} for name in req.security_groups or ["default"]],
    }
    if http.runtime(request).settings.compute.enable_instance_password:
        shown["adminPass"] = password
    return JSON({"server": shown}, 202, headers={"Location": links[0]["href"]})


async def delete(
    request: Request, server_id: str, ctx: RequestContext = Depends(http.caller)
) -> Response:
    await compute_api(request).delete(ctx, server_id)
    return Response(status_code=204)


_SERVER = "/v2.1/servers/{server_id}"

ROUTES: tuple[Route, ...] = (
    Route("POST", "/v2.1/servers", create, "servers:create"),
    Route("DELETE", _SERVER, delete, "servers:delete"),
)
