"""Server bodies, shaped as Nova's ``views/servers.py`` shapes them at each microversion.

``basic`` is the ``GET /servers`` entry (id, name, links). ``show_bodies``
builds whole bodies for a list of instances with one query per related
table (faults, volumes, tags, group memberships, compute services, request
specs), never one per server. The ``View`` says which request the body
answers, since Nova's differ:

- ``SHOW`` (``GET /servers/{id}``) and ``DETAIL`` (``/servers/detail``): every
  attribute; only ``SHOW`` carries ``server_groups`` (2.71);
- ``UPDATE`` (``PUT``) and ``REBUILD``: before 2.75 a reduced body (no AZ,
  key, extended attributes, states, volumes, security groups, and addresses
  without type and MAC), from 2.75 all of it; ``server_groups`` from 2.71;
  ``REBUILD`` never shows ``OS-EXT-SRV-ATTR:user_data`` (the action adds
  ``user_data`` itself).

Admin-only parts follow the policies ``compute:servers:show:extended_attributes``
and ``compute:servers:show:host_status``; the flavor's ``extra_specs`` (2.47)
follow ``compute:flavor_extra_specs:index``.
"""

from __future__ import annotations

import datetime
import enum
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cumulo.api import policy
from cumulo.api.microversion import APIVersion
from cumulo.compute import http
from cumulo.compute.states import PROGRESS_STATUSES, status_from_state
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.hosts import ComputeService
from cumulo.db.models.instances import (
    BlockDeviceMapping,
    Instance,
    InstanceFault,
    InstanceTag,
    RequestSpecRecord,
    ServerGroup,
    ServerGroupMember,
)

COLLECTION = "servers"
ISO_TIME = "%Y-%m-%dT%H:%M:%SZ"
PERFECT_TIME = "%Y-%m-%dT%H:%M:%S.%f"
IMAGE_PROPERTY_PREFIX = "image_"
IMAGE_BASE_FIELDS = frozenset(
    {"image_base_image_ref", "image_disk_format", "image_container_format",
     "image_min_ram", "image_min_disk"}
)  # fmt: skip
"""Kept with the image's properties in system_metadata, but fields of the image, not properties."""
_FAULT_STATUSES = ("ERROR", "DELETED")
_CHUNK = 500

_V = APIVersion.parse
V2_3, V2_9, V2_16, V2_19, V2_26 = _V("2.3"), _V("2.9"), _V("2.16"), _V("2.19"), _V("2.26")
V2_47, V2_63, V2_71, V2_73, V2_75 = _V("2.47"), _V("2.63"), _V("2.71"), _V("2.73"), _V("2.75")
V2_90, V2_96, V2_98, V2_100 = _V("2.90"), _V("2.96"), _V("2.98"), _V("2.100")


class View(enum.Enum):
    """Which request a server body answers."""

    SHOW = "show"
    DETAIL = "detail"
    UPDATE = "update"
    REBUILD = "rebuild"


@dataclass(frozen=True)
class _Shape:
    """What the bodies of one request carry, from its view, version and the caller's rights."""

    version: APIVersion
    admin: bool
    full: bool
    extra_specs: bool
    extended: bool
    host_status: bool
    server_groups: bool
    user_data: bool


def _shape(ctx: RequestContext, version: APIVersion, view: View) -> _Shape:
    full = view in (View.SHOW, View.DETAIL) or version >= V2_75
    target = {"project_id": ctx.project_id}
    return _Shape(
        version=version,
        admin=ctx.is_admin,
        full=full,
        extra_specs=version >= V2_47
        and policy.check(ctx, "compute:flavor_extra_specs:index", target),
        extended=full and policy.check(ctx, "compute:servers:show:extended_attributes", target),
        host_status=full
        and version >= V2_16
        and policy.check(ctx, "compute:servers:show:host_status", target),
        server_groups=view is not View.DETAIL and version >= V2_71,
        user_data=view is not View.REBUILD,
    )


@dataclass
class _Related:
    """The rows around a page of instances, loaded once for all of them."""

    faults: dict[str, Any] = field(default_factory=dict)
    """The newest fault of each instance: a row with ``InstanceFault``'s columns."""
    volumes: dict[str, list[Any]] = field(default_factory=dict)
    """Each instance's volume mappings: rows with ``BlockDeviceMapping``'s columns."""
    tags: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    services: dict[str, ComputeService] = field(default_factory=dict)
    hints: dict[str, dict[str, Any]] = field(default_factory=dict)
    now: datetime.datetime = field(default_factory=utcnow)
    service_down_time: float = 60.0


def basic(request: Request, instance: Instance) -> dict[str, Any]:
    """A server in ``GET /servers``: id, name and links."""
    return {
        "id": instance.uuid,
        "name": instance.display_name,
        "links": http.resource_links(request, COLLECTION, instance.uuid),
    }


async def show_bodies(
    session: AsyncSession,
    request: Request,
    ctx: RequestContext,
    instances: Sequence[Instance],
    *,
    detail: bool = False,
    view: View | None = None,
) -> list[dict[str, Any]]:
    """Whole server bodies for ``instances``, in their order (``detail``: as /servers/detail)."""
    chosen = view or (View.DETAIL if detail else View.SHOW)
    shape = _shape(ctx, http.version(request), chosen)
    related = await _related(session, instances, shape)
    related.service_down_time = http.settings(request).service_down_time
    return [_body(request, instance, shape, related) for instance in instances]


async def show_body(
    session: AsyncSession,
    request: Request,
    ctx: RequestContext,
    instance: Instance,
    view: View = View.SHOW,
) -> dict[str, Any]:
    """``{"server": …}`` for one instance."""
    (body,) = await show_bodies(session, request, ctx, [instance], view=view)
    return {"server": body}


# --- loading what the bodies need ------------------------------------------------------------


def _chunks(uuids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(uuids), _CHUNK):
        yield uuids[start : start + _CHUNK]


async def _related(session: AsyncSession, instances: Sequence[Instance], shape: _Shape) -> _Related:
    related = _Related()
    uuids = [instance.uuid for instance in instances]
    faulted = [i.uuid for i in instances if _status(i) in _FAULT_STATUSES]
    for chunk in _chunks(faulted):
        await _load_faults(session, chunk, related)
    for chunk in _chunks(uuids):
        if shape.full:
            await _load_volumes(session, chunk, related)
        if shape.version >= V2_26:
            await _load_tags(session, chunk, related)
        if shape.server_groups:
            await _load_groups(session, chunk, related)
        if shape.version >= V2_100:
            await _load_hints(session, chunk, related)
    hosts = sorted({i.host for i in instances if i.host})
    if shape.host_status and hosts:
        rows = await session.scalars(
            select(ComputeService).where(
                ComputeService.host.in_(hosts), ComputeService.binary == "nova-compute"
            )
        )
        related.services = {service.host: service for service in rows}
    return related


_Query: TypeAlias = "Select[*tuple[Any, ...]]"

_PREBUILT_MAX = 8
"""Up to this many instances, a loader's query is built once per count with a bound
parameter per uuid (a server's show, a short list) and runs on the fast path: building
and keying a statement costs more than running it. Longer lists build theirs."""


async def _rows(
    session: AsyncSession, build: Callable[[Sequence[Any]], _Query], uuids: Sequence[str]
) -> Iterable[Any]:
    """The rows of ``build``'s query of ``uuids`` (each loader selects columns, not ORM
    objects, so both paths give rows read by column name)."""
    if len(uuids) > _PREBUILT_MAX:
        return await session.execute(build(uuids))
    params = {f"uuid_{i}": uuid for i, uuid in enumerate(uuids)}
    return await run(session, _prebuilt(build, len(uuids)), params)


@functools.lru_cache(maxsize=64)
def _prebuilt(build: Callable[[Sequence[Any]], _Query], count: int) -> Prepared:
    return Prepared(build([bindparam(f"uuid_{i}") for i in range(count)]))


def _faults_query(uuids: Sequence[Any]) -> _Query:
    return (
        select(*InstanceFault.__table__.columns)
        .where(InstanceFault.instance_uuid.in_(uuids))
        .order_by(InstanceFault.created_at.desc(), InstanceFault.id.desc())
    )


def _volumes_query(uuids: Sequence[Any]) -> _Query:
    return (
        select(*BlockDeviceMapping.__table__.columns)
        .where(
            BlockDeviceMapping.instance_uuid.in_(uuids),
            BlockDeviceMapping.deleted == 0,
            BlockDeviceMapping.volume_id.is_not(None),
        )
        .order_by(BlockDeviceMapping.id)
    )


def _tags_query(uuids: Sequence[Any]) -> _Query:
    return (
        select(InstanceTag.instance_uuid, InstanceTag.tag)
        .where(InstanceTag.instance_uuid.in_(uuids))
        .order_by(InstanceTag.tag)
    )


def _groups_query(uuids: Sequence[Any]) -> _Query:
    return (
        select(ServerGroupMember.instance_uuid, ServerGroup.uuid)
        .join(ServerGroup, ServerGroup.id == ServerGroupMember.group_id)
        .where(ServerGroupMember.instance_uuid.in_(uuids))
    )


def _hints_query(uuids: Sequence[Any]) -> _Query:
    return select(RequestSpecRecord.instance_uuid, RequestSpecRecord.spec).where(
        RequestSpecRecord.instance_uuid.in_(uuids)
    )


async def _load_faults(session: AsyncSession, uuids: Sequence[str], related: _Related) -> None:
    for fault in await _rows(session, _faults_query, uuids):
        related.faults.setdefault(fault.instance_uuid, fault)


async def _load_volumes(session: AsyncSession, uuids: Sequence[str], related: _Related) -> None:
    for bdm in await _rows(session, _volumes_query, uuids):
        related.volumes.setdefault(bdm.instance_uuid, []).append(bdm)


async def _load_tags(session: AsyncSession, uuids: Sequence[str], related: _Related) -> None:
    for uuid, tag in await _rows(session, _tags_query, uuids):
        related.tags.setdefault(uuid, []).append(tag)


async def _load_groups(session: AsyncSession, uuids: Sequence[str], related: _Related) -> None:
    for instance_uuid, group_uuid in await _rows(session, _groups_query, uuids):
        related.groups.setdefault(instance_uuid, []).append(group_uuid)


async def _load_hints(session: AsyncSession, uuids: Sequence[str], related: _Related) -> None:
    for instance_uuid, spec in await _rows(session, _hints_query, uuids):
        related.hints[instance_uuid] = _hints((spec or {}).get("scheduler_hints"))


def _hints(raw: Any) -> dict[str, list[str]]:
    """Scheduler hints as Nova's request spec keeps them: each value a list of strings."""
    if not isinstance(raw, dict):
        return {}
    return {
        str(key): [str(v) for v in value] if isinstance(value, list) else [str(value)]
        for key, value in raw.items()
    }


# --- building one body ----------------------------------------------------------------------


def _body(request: Request, instance: Instance, shape: _Shape, related: _Related) -> dict[str, Any]:
    body = _core(request, instance, shape)
    status = body["status"]
    if status in _FAULT_STATUSES and instance.uuid in related.faults:
        body["fault"] = _fault(related.faults[instance.uuid], shape.admin)
    if status in PROGRESS_STATUSES:
        body["progress"] = instance.progress or 0
    if shape.full:
        body.update(_full(instance, shape, related))
    if shape.host_status:
        body["host_status"] = _host_status(instance, related)
    body.update(_versioned(instance, shape, related))
    return body


def _status(instance: Instance) -> str:
    if instance.deleted:
        return "DELETED"
    return status_from_state(instance.vm_state, instance.task_state)


def _core(request: Request, instance: Instance, shape: _Shape) -> dict[str, Any]:
    updated = instance.updated_at or instance.created_at
    return {
        "id": instance.uuid,
        "name": instance.display_name,
        "status": _status(instance),
        "tenant_id": instance.project_id or "",
        "user_id": instance.user_id or "",
        "metadata": dict(instance.meta or {}),
        "hostId": host_id(instance.project_id, instance.host),
        "image": _image(request, instance, shape.version),
        "flavor": _flavor(request, instance, shape),
        "created": instance.created_at.strftime(ISO_TIME),
        "updated": updated.strftime(ISO_TIME),
        "addresses": addresses(instance, extended=shape.full),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": instance.access_ip_v6 or "",
        "links": http.resource_links(request, COLLECTION, instance.uuid),
        "OS-DCF:diskConfig": "AUTO" if instance.auto_disk_config else "MANUAL",
    }


def host_id(project_id: str | None, host: str | None) -> str:
    """Nova's ``hostId``: a per-project hash of the host, so projects cannot compare hosts."""
    if not host:
        return ""
    return hashlib.sha224((str(project_id) + host).encode()).hexdigest()


def _image(request: Request, instance: Instance, version: APIVersion) -> dict[str, Any] | str:
    if not instance.image_ref:
        return ""
    image_id = instance.image_ref.rstrip("/").rsplit("/", 1)[-1]
    image: dict[str, Any] = {
        "id": image_id,
        "links": [_bookmark(request, "images", image_id)],
    }
    if version >= V2_98:
        image["properties"] = {
            key[len(IMAGE_PROPERTY_PREFIX) :]: value
            for key, value in (instance.system_metadata or {}).items()
            if key.startswith(IMAGE_PROPERTY_PREFIX) and key not in IMAGE_BASE_FIELDS
        }
    return image


def _bookmark(request: Request, collection: str, ident: str) -> dict[str, str]:
    return http.resource_links(request, collection, ident)[1]


def _flavor(request: Request, instance: Instance, shape: _Shape) -> dict[str, Any]:
    flavor = instance.flavor or {}
    if shape.version < V2_47:
        flavor_id = str(flavor.get("id", instance.flavor_id))
        return {"id": flavor_id, "links": [_bookmark(request, "flavors", flavor_id)]}
    body: dict[str, Any] = {
        "vcpus": flavor.get("vcpus", instance.vcpus),
        "ram": flavor.get("memory_mb", instance.memory_mb),
        "disk": flavor.get("root_gb", instance.root_gb),
        "ephemeral": flavor.get("ephemeral_gb", instance.ephemeral_gb),
        "swap": flavor.get("swap", 0),
        "original_name": flavor.get("name", ""),
    }
    if shape.extra_specs:
        body["extra_specs"] = dict(flavor.get("extra_specs") or {})
    return body


def addresses(instance: Instance, *, extended: bool = True) -> dict[str, list[dict[str, Any]]]:
    """``{network label: [address, …]}``: each network's fixed IPs, then its floating ones.

    Empty while the server builds, as Nova hides addresses until then.
    """
    if instance.vm_state == "building":
        return {}
    fixed: dict[str, list[dict[str, Any]]] = {}
    floating: dict[str, list[dict[str, Any]]] = {}
    for vif in instance.network_info or []:
        network = vif.get("network") or {}
        label = str(network.get("label", ""))
        mac = vif.get("address")
        ips, floaters = fixed.setdefault(label, []), floating.setdefault(label, [])
        for subnet in network.get("subnets") or []:
            for ip in subnet.get("ips") or []:
                ips.append(_address(ip, "fixed", mac, extended))
                for floater in ip.get("floating_ips") or []:
                    floaters.append(_address(floater, "floating", mac, extended))
    return {label: ips + floating[label] for label, ips in fixed.items()}


def _address(ip: dict[str, Any], kind: str, mac: Any, extended: bool) -> dict[str, Any]:
    address: dict[str, Any] = {"version": ip.get("version", 4), "addr": ip.get("address")}
    if extended:
        address["OS-EXT-IPS:type"] = kind
        address["OS-EXT-IPS-MAC:mac_addr"] = mac
    return address


def _fault(fault: Any, admin: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": fault.code,
        "created": fault.created_at.strftime(ISO_TIME),
        "message": fault.message,
    }
    if fault.details and (admin or fault.code != 500):
        body["details"] = fault.details
    return body


def _full(instance: Instance, shape: _Shape, related: _Related) -> dict[str, Any]:
    """What every GET body has, and PUT/rebuild bodies only from 2.75."""
    body: dict[str, Any] = {
        "OS-EXT-AZ:availability_zone": instance.availability_zone or "",
        "config_drive": instance.config_drive,
        "key_name": instance.key_name,
        "OS-SRV-USG:launched_at": _perfect(instance.launched_at),
        "OS-SRV-USG:terminated_at": _perfect(instance.terminated_at),
    }
    groups = list(dict.fromkeys(instance.security_groups or []))
    if groups:
        body["security_groups"] = [{"name": name} for name in groups]
    if shape.extended:
        body.update(_extended_attributes(instance, shape))
    body["OS-EXT-STS:task_state"] = instance.task_state
    body["OS-EXT-STS:vm_state"] = instance.vm_state
    body["OS-EXT-STS:power_state"] = instance.power_state
    body["os-extended-volumes:volumes_attached"] = [
        {"id": bdm.volume_id, "delete_on_termination": bdm.delete_on_termination}
        if shape.version >= V2_3
        else {"id": bdm.volume_id}
        for bdm in related.volumes.get(instance.uuid, [])
    ]
    return body


def _perfect(moment: datetime.datetime | None) -> str | None:
    return moment.strftime(PERFECT_TIME) if moment else None


def _extended_attributes(instance: Instance, shape: _Shape) -> dict[str, Any]:
    body: dict[str, Any] = {
        "OS-EXT-SRV-ATTR:host": instance.host,
        "OS-EXT-SRV-ATTR:instance_name": instance_name(instance),
        "OS-EXT-SRV-ATTR:hypervisor_hostname": instance.node,
    }
    if shape.version >= V2_3:
        body.update(
            {
                "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id,
                "OS-EXT-SRV-ATTR:launch_index": instance.launch_index,
                "OS-EXT-SRV-ATTR:hostname": instance.hostname,
                "OS-EXT-SRV-ATTR:kernel_id": instance.kernel_id,
                "OS-EXT-SRV-ATTR:ramdisk_id": instance.ramdisk_id,
                "OS-EXT-SRV-ATTR:root_device_name": instance.root_device_name,
            }
        )
        if shape.user_data:
            body["OS-EXT-SRV-ATTR:user_data"] = instance.user_data
    return body


def instance_name(instance: Instance) -> str:
    """The hypervisor's name of the instance (Nova's ``instance_name_template``)."""
    return f"instance-{instance.id:08x}"


def _host_status(instance: Instance, related: _Related) -> str:
    """UP, DOWN (forced down), MAINTENANCE (disabled), UNKNOWN (no heartbeat), or ""."""
    service = related.services.get(instance.host or "")
    if service is None:
        return ""
    if service.forced_down:
        return "DOWN"
    if service.disabled:
        return "MAINTENANCE"
    seen = service.last_seen_up or service.created_at
    alive = abs((related.now - seen).total_seconds()) <= related.service_down_time
    return "UP" if alive else "UNKNOWN"


def _versioned(instance: Instance, shape: _Shape, related: _Related) -> dict[str, Any]:
    """The attributes later microversions added, in the order Nova adds them."""
    version = shape.version
    body: dict[str, Any] = {}
    if version >= V2_9:
        body["locked"] = bool(instance.locked)
    if version >= V2_73:
        body["locked_reason"] = instance.locked_reason
    if version >= V2_19:
        body["description"] = instance.display_description
    if version >= V2_26:
        body["tags"] = related.tags.get(instance.uuid, [])
    if version >= V2_63:
        body["trusted_image_certificates"] = None
    if version >= V2_90 and not shape.extended:
        body["OS-EXT-SRV-ATTR:hostname"] = instance.hostname
    if shape.server_groups:
        body["server_groups"] = related.groups.get(instance.uuid, [])
    if version >= V2_96:
        body["pinned_availability_zone"] = instance.pinned_availability_zone
    if version >= V2_100:
        body["scheduler_hints"] = related.hints.get(instance.uuid, {})
    return body
