"""What every identity handler needs: the service, the JSON body read Keystone's way."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cumulo import exception
from cumulo.api.validation import SchemaValidationError
from cumulo.identity.errors import ExpectingToFind
from cumulo.identity.service import IdentityService

JSON_TYPES = ("application/json", "")


def identity(request: Request) -> IdentityService:
    svc: IdentityService = request.app.state.identity
    return svc


async def read_body(request: Request) -> dict[str, Any]:
    """The JSON object in the body; an empty body reads as ``{}``, as in Keystone."""
    limit = identity(request).settings.api.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise exception.PayloadTooLarge()
    raw = await request.body()
    if len(raw) > limit:
        raise exception.PayloadTooLarge()
    if not raw:
        return {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES and not content_type.endswith("+json"):
        raise ExpectingToFind(attribute="application/json", target="Content-Type header")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ExpectingToFind(attribute="valid JSON", target="request body") from None
    if not isinstance(body, dict):
        raise ExpectingToFind(attribute="valid JSON object", target="request body")
    return body


def member(body: dict[str, Any], key: str) -> dict[str, Any]:
    """``body[key]``, the entity of a create or update request (``{}`` when absent)."""
    value = body.get(key, {})
    if not isinstance(value, dict):
        raise SchemaValidationError(key, value, f"{value!r} is not of type 'object'")
    return value


def require_changes(data: dict[str, Any]) -> None:
    if not data:
        raise exception.Invalid("{} does not have enough properties")


def no_content() -> Response:
    return Response(status_code=204)
