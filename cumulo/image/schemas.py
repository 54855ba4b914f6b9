"""``/v2/schemas/…``: the JSON schemas Glance publishes for its resources.

glanceclient reads ``/v2/schemas/image`` to learn which attributes are
base ones, which are read-only and the ``additionalProperties`` type of free
form properties; the collection schemas embed the item schema as Glance does.
As every Glance route, they need a token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cumulo.api.factory import JSON
from cumulo.context import RequestContext
from cumulo.image.images import Ctx
from cumulo.image.views import CONTAINER_FORMATS, DISK_FORMATS, STATUSES, VISIBILITIES

router = APIRouter()

UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)
NULL_STRING = ["null", "string"]
NULL_INTEGER = ["null", "integer"]


def _read_only(kind: str | list[str], description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description, **extra}


def _extra(description: str, **extra: Any) -> dict[str, Any]:
    """A well-known free-form property (``is_base: false``)."""
    return {"type": "string", "is_base": False, "description": description, **extra}


def image_properties() -> dict[str, Any]:
    return {
        "id": {
            "type": "string",
            "pattern": UUID_PATTERN,
            "description": "An identifier for the image",
        },
        "name": {
            "type": NULL_STRING,
            "maxLength": 255,
            "description": "Descriptive name for the image",
        },
        "status": _read_only("string", "Status of the image", enum=STATUSES),
        "visibility": {
            "type": "string",
            "enum": VISIBILITIES,
            "description": "Scope of image accessibility",
        },
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {
            "type": "boolean",
            "description": "If true, image will not appear in default image list response.",
        },
        "checksum": _read_only(NULL_STRING, "md5 hash of image contents.", maxLength=32),
        "os_hash_algo": _read_only(
            NULL_STRING, "Algorithm to calculate the os_hash_value", maxLength=64
        ),
        "os_hash_value": _read_only(
            NULL_STRING,
            "Hexdigest of the image contents using the algorithm specified by the os_hash_algo",
            maxLength=128,
        ),
        "owner": {"type": NULL_STRING, "maxLength": 255, "description": "Owner of the image"},
        "size": _read_only(NULL_INTEGER, "Size of image file in bytes"),
        "virtual_size": _read_only(NULL_INTEGER, "Virtual size of image in bytes"),
        "container_format": {
            "type": NULL_STRING,
            "enum": [None, *CONTAINER_FORMATS],
            "description": "Format of the container",
        },
        "disk_format": {
            "type": NULL_STRING,
            "enum": [None, *DISK_FORMATS],
            "description": "Format of the disk",
        },
        "created_at": _read_only("string", "Date and time of image registration"),
        "updated_at": _read_only("string", "Date and time of the last image modification"),
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 255},
            "description": "List of strings related to the image",
        },
        "direct_url": _read_only("string", "URL to access the image file kept in external store"),
        "min_ram": {
            "type": "integer",
            "description": "Amount of ram (in MB) required to boot image.",
        },
        "min_disk": {
            "type": "integer",
            "description": "Amount of disk space (in GB) required to boot image.",
        },
        "self": _read_only("string", "An image self url"),
        "file": _read_only("string", "An image file url"),
        "stores": _read_only(
            "string",
            "Store in which image data resides. Only present when "
            "the operator has enabled multiple stores.",
        ),
        "schema": _read_only("string", "An image schema url"),
        "locations": {
            "type": "array",
            "description": "A set of URLs to access the image file kept in external store",
            "items": {
                "type": "object",
                "required": ["url", "metadata"],
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                },
            },
        },
        "kernel_id": _extra(
            "ID of image stored in Glance that should be used as the kernel "
            "when booting an AMI-style image.",
            type=NULL_STRING,
            pattern=UUID_PATTERN,
        ),
        "ramdisk_id": _extra(
            "ID of image stored in Glance that should be used as the ramdisk "
            "when booting an AMI-style image.",
            type=NULL_STRING,
            pattern=UUID_PATTERN,
        ),
        "instance_uuid": _extra(
            "Metadata which can be used to record which instance this "
            "image is associated with. (Informational only, does not "
            "create an instance snapshot.)"
        ),
        "architecture": _extra(
            "Operating system architecture as specified in "
            "https://docs.openstack.org/python-glanceclient/latest/cli/"
            "property-keys.html"
        ),
        "os_distro": _extra(
            "Common name of operating system distribution as specified in "
            "https://docs.openstack.org/python-glanceclient/latest/cli/"
            "property-keys.html"
        ),
        "os_version": _extra("Operating system version as specified by the distributor"),
        "description": _extra("A human-readable string describing this image."),
    }


def image_schema() -> dict[str, Any]:
    return {
        "name": "image",
        "properties": image_properties(),
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": {
                "type": "string",
                "description": "Date and time of image member creation",
            },
            "updated_at": {
                "type": "string",
                "description": "Date and time of last modification of image member",
            },
            "image_id": {
                "type": "string",
                "pattern": UUID_PATTERN,
                "description": "An identifier for the image",
            },
            "member_id": {
                "type": "string",
                "description": "An identifier for the image member (tenantId)",
            },
            "status": {
                "type": "string",
                "enum": ["pending", "accepted", "rejected"],
                "description": "The status of this image member",
            },
            "schema": {"type": "string", "readOnly": True},
        },
    }


def members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }


@router.get("/v2/schemas/image")
async def image(_ctx: RequestContext = Ctx) -> JSON:
    return JSON(image_schema())


@router.get("/v2/schemas/images")
async def images(_ctx: RequestContext = Ctx) -> JSON:
    return JSON(images_schema())


@router.get("/v2/schemas/member")
async def member(_ctx: RequestContext = Ctx) -> JSON:
    return JSON(member_schema())


@router.get("/v2/schemas/members")
async def members(_ctx: RequestContext = Ctx) -> JSON:
    return JSON(members_schema())
