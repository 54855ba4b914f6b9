"""Applying a Glance JSON patch (``application/openstack-images-v2.1-json-patch``)."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.db.models.image import Image
from cumulo.image.attributes import check_privileged, check_value, writable
from cumulo.image.views import COLUMNS

PATCH_TYPES = {
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
}
OPS = {"add", "replace", "remove"}


def _operation(op: Any) -> tuple[str, str, Any]:
    if not isinstance(op, dict) or op.get("op") not in OPS or not isinstance(op.get("path"), str):
        raise exception.Invalid(
            "Unable to find `op` in JSON Schema change. "
            "It must be one of the following: add, remove, replace."
        )
    path = op["path"]
    if not path.startswith("/") or path.count("/") != 1 or len(path) < 2:
        raise exception.Invalid(f"Invalid JSON pointer for this resource: '{path}'")
    if op["op"] != "remove" and "value" not in op:
        raise exception.Invalid('Operation objects must contain exactly one member named "value".')
    return op["op"], path[1:], op.get("value")


def replace_tags(image: Image, tags: list[str]) -> None:
    """Make ``image.tags`` equal ``tags``, touching only the tags that change."""
    for tag in [t for t in image.tags if t not in tags]:
        image.tags.remove(tag)
    for tag in tags:
        if tag not in image.tags:
            image.tags.append(tag)


def apply(ctx: RequestContext, image: Image, body: Any) -> None:
    """Apply every operation of ``body`` to ``image`` (all or nothing is up to the caller)."""
    if not isinstance(body, list):
        raise exception.Invalid("Request body must be a JSON array of operation objects.")
    properties = dict(image.properties or {})
    for raw in body:
        op, name, value = _operation(raw)
        writable(name)
        if name == "id":
            raise exception.Forbidden("Attribute 'id' is read-only.")
        if name in COLUMNS:
            if op == "remove":
                raise exception.Forbidden(f"Properties {name} must be set prior to saving data.")
            value = check_value(name, value)
            check_privileged(ctx, name, value)
            if name == "tags":
                replace_tags(image, value)
            else:
                setattr(image, name, value)
        elif op == "remove" or (op == "replace" and name not in properties):
            if name not in properties:
                raise exception.Conflict(f"Property {name} does not exist.")
            del properties[name]
        else:
            properties[name] = check_value(name, value)
    image.properties = properties
