"""Images as Glance v2 shows them, and the attribute rules of its image schema."""

from __future__ import annotations

import datetime
from typing import Any

from cumulo.db.models.image import Image

DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
VISIBILITIES = ["public", "community", "shared", "private"]
STATUSES = [
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "deactivated",
    "uploading",
    "importing",
    "pending_delete",
]

READ_ONLY = {
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
}
RESERVED = {"location", "deleted", "deleted_at"}
# Attributes stored in their own column (the rest are free-form properties).
COLUMNS = {
    "id",
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_disk",
    "min_ram",
    "owner",
    "disk_format",
    "container_format",
    "tags",
}


def timestamp(value: datetime.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def show(image: Image) -> dict[str, Any]:
    body: dict[str, Any] = dict(image.properties or {})
    body.update(
        {
            "id": image.id,
            "name": image.name,
            "status": image.status,
            "visibility": image.visibility,
            "protected": image.protected,
            "os_hidden": image.os_hidden,
            "checksum": image.checksum,
            "os_hash_algo": image.os_hash_algo,
            "os_hash_value": image.os_hash_value,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "owner": image.owner,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "tags": list(image.tags or []),
            "created_at": timestamp(image.created_at),
            "updated_at": timestamp(image.updated_at or image.created_at),
            "self": f"/v2/images/{image.id}",
            "file": f"/v2/images/{image.id}/file",
            "schema": "/v2/schemas/image",
        }
    )
    return body
