"""Cinder's response bodies for volumes, attachments and volume types.

The volume detail view has every key Cinder's (v2 view plus the v3 and
extension attributes), including those that name features cumulo does not
have (``replication_status``, ``consistencygroup_id``…), with the values a
Cinder without them shows. Admin-only keys follow Cinder's default policy.
"""

from __future__ import annotations

import datetime
from typing import Any

from cumulo.api.microversion import APIVersion
from cumulo.context import RequestContext
from cumulo.db.models.volume import Volume, VolumeAttachment, VolumeType
from cumulo.volume.microversions import Feature, supports
from cumulo.volume.states import AttachStatus

BACKEND = "file"
"""Cinder's ``host@backend#pool`` name of the one backend: files on this machine."""


def iso(stamp: datetime.datetime | None) -> str | None:
    return stamp.isoformat(timespec="microseconds") if stamp else None


def links(base: str, project_id: str, collection: str, ident: str) -> list[dict[str, str]]:
    root = base.rstrip("/")
    return [
        {"rel": "self", "href": f"{root}/v3/{project_id}/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{root}/{project_id}/{collection}/{ident}"},
    ]


def volume_attachments(volume: Volume, ctx: RequestContext) -> list[dict[str, Any]]:
    """The attached (completed) attachments, as Cinder's volume view lists them."""
    return [
        {
            "id": volume.id,
            "attachment_id": a.id,
            "volume_id": volume.id,
            "server_id": a.instance_uuid,
            "host_name": a.attached_host if ctx.is_admin else None,
            "device": a.mountpoint,
            "attached_at": iso(a.attach_time),
        }
        for a in volume.attachments
        if a.attach_status == AttachStatus.ATTACHED
    ]


def volume_summary(volume: Volume, base: str) -> dict[str, Any]:
    return {
        "id": volume.id,
        "name": volume.name,
        "links": links(base, volume.project_id, "volumes", volume.id),
    }


def volume_detail(
    volume: Volume, ctx: RequestContext, version: APIVersion, base: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": volume.id,
        "status": volume.status,
        "size": volume.size,
        "availability_zone": volume.availability_zone,
        "created_at": iso(volume.created_at),
        "updated_at": iso(volume.updated_at),
        "attachments": volume_attachments(volume, ctx),
        "name": volume.name,
        "description": volume.description,
        "volume_type": volume.volume_type.name,
        "snapshot_id": None,
        "source_volid": None,
        "metadata": dict(volume.metadata_ or {}),
        "links": links(base, volume.project_id, "volumes", volume.id),
        "user_id": volume.user_id,
        "bootable": str(volume.bootable).lower(),
        "encrypted": False,
        "replication_status": None,
        "consistencygroup_id": None,
        "multiattach": volume.multiattach,
    }
    if volume.image_metadata is not None:
        body["volume_image_metadata"] = {k: str(v) for k, v in volume.image_metadata.items()}
    body.update(_extension_attributes(volume, ctx))
    body.update(_versioned_attributes(volume, ctx, version))
    return body


def _extension_attributes(volume: Volume, ctx: RequestContext) -> dict[str, Any]:
    if not ctx.is_admin:
        return {}
    return {
        "os-vol-tenant-attr:tenant_id": volume.project_id,
        "os-vol-host-attr:host": volume.host,
        "os-vol-mig-status-attr:migstat": None,
        "os-vol-mig-status-attr:name_id": None,
        "migration_status": None,
    }


def _versioned_attributes(
    volume: Volume, ctx: RequestContext, version: APIVersion
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if supports(version, Feature.GROUP_ID):
        body["group_id"] = None
    if ctx.is_admin and supports(version, Feature.PROVIDER_ID):
        body["provider_id"] = None
    if supports(version, Feature.SHARED_TARGETS):
        body["shared_targets"] = False
        body["service_uuid"] = None
    if ctx.is_admin and supports(version, Feature.CLUSTER_NAME):
        body["cluster_name"] = None
    if supports(version, Feature.VOLUME_TYPE_ID):
        body["volume_type_id"] = volume.volume_type_id
    if supports(version, Feature.CONSUMES_QUOTA):
        body["consumes_quota"] = True
    return body


def attachment_summary(attachment: VolumeAttachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "status": attachment.attach_status,
        "instance": attachment.instance_uuid,
        "volume_id": attachment.volume_id,
    }


def attachment_detail(attachment: VolumeAttachment) -> dict[str, Any]:
    return {
        **attachment_summary(attachment),
        "attached_at": iso(attachment.attach_time),
        "detached_at": iso(attachment.detach_time),
        "attach_mode": attachment.attach_mode,
        "connection_info": attachment.connection_info,
    }


def volume_type(vtype: VolumeType, ctx: RequestContext) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": vtype.id,
        "name": vtype.name,
        "is_public": vtype.is_public,
        "description": vtype.description,
        "os-volume-type-access:is_public": vtype.is_public,
    }
    if ctx.is_admin:
        body["extra_specs"] = dict(vtype.extra_specs or {})
        body["qos_specs_id"] = None
    return body
