"""``/flavors/{id}/os-extra_specs``: a flavor's free-form key/value tuning.

Bodies are key → value maps, checked as Nova's ``patternProperties`` schema
checks them; from 2.86 known keys are also checked against
``extra_spec_rules``. Values may be sent as numbers but are stored (and
listed) as strings; a write answers with the body it was given, as Nova does.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo import exception
from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.validation import SchemaValidationError, read_json
from cumulo.compute import errors, http
from cumulo.compute.flavors import db as flavors_db
from cumulo.compute.flavors import extra_spec_rules
from cumulo.compute.flavors.db import Viewer
from cumulo.compute.microversions import Feature, supports
from cumulo.compute.validation import is_number
from cumulo.context import RequestContext

KEY_PATTERN = "^[a-zA-Z0-9-_:. ]{1,255}$"


async def index(
    request: Request, flavor_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    policy.enforce(ctx, "compute:flavor_extra_specs:index", {"project_id": ctx.project_id})
    async with http.db(request).read() as session:
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
    return JSON({"extra_specs": flavors_db.extra_specs(flavor)})


async def show(
    request: Request, flavor_id: str, key: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    policy.enforce(ctx, "compute:flavor_extra_specs:show", {"project_id": ctx.project_id})
    async with http.db(request).read() as session:
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
    specs = flavors_db.extra_specs(flavor)
    if key not in specs:
        raise errors.FlavorExtraSpecNotFound(flavor_id=flavor_id, key=key)
    return JSON({key: specs[key]})


async def create(
    request: Request, flavor_id: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    body = await _read(request)
    _check_create_body(body)
    policy.enforce(ctx, "compute:flavor_extra_specs:create", {})
    _check_values(request, body["extra_specs"])
    await _merge(request, ctx, flavor_id, body["extra_specs"])
    return JSON(body)


async def update(
    request: Request, flavor_id: str, key: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    body = await _read(request)
    check_specs(body, None)
    _check_one_key(body)
    policy.enforce(ctx, "compute:flavor_extra_specs:update", {})
    _check_values(request, body)
    if key not in body:
        raise exception.Invalid("Request body and URI mismatch")
    await _merge(request, ctx, flavor_id, body)
    return JSON(body)


async def delete(
    request: Request, flavor_id: str, key: str, ctx: RequestContext = Depends(http.caller)
) -> Response:
    policy.enforce(ctx, "compute:flavor_extra_specs:delete", {})
    async with http.db(request).write() as session:
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
        if not await flavors_db.delete_extra_spec(session, flavor, key):
            raise errors.FlavorExtraSpecNotFound(flavor_id=flavor_id, key=key)
    return Response(status_code=200)


async def _read(request: Request) -> Any:
    return await read_json(request, http.runtime(request).settings.api.max_body_bytes)


async def _merge(
    request: Request, ctx: RequestContext, flavor_id: str, specs: dict[str, Any]
) -> None:
    async with http.db(request).write() as session:
        flavor = await flavors_db.get_flavor(session, Viewer.of(ctx), flavor_id)
        stored = {key: str(value) for key, value in specs.items()}
        await flavors_db.merge_extra_specs(session, flavor, stored)


def _invalid(field: str | None, value: Any, detail: str) -> exception.Invalid:
    if field is None:
        return errors.ValidationError(detail=detail)
    return SchemaValidationError(field, value, detail)


def check_specs(specs: Any, field: str | None) -> None:
    """An extra specs map as Nova's schema wants it; ``field`` is None for a bare body."""
    if not isinstance(specs, dict):
        raise _invalid(field, specs, f"{specs!r} is not of type 'object'")
    for key, value in specs.items():
        if not re.search(KEY_PATTERN, key):
            continue
        if not (isinstance(value, str) or is_number(value)):
            raise SchemaValidationError(key, value, f"{value!r} is not of type 'string', 'number'")
        if isinstance(value, str) and len(value) > 255:
            raise SchemaValidationError(key, value, f"{value!r} is too long")
    unmatched = sorted(key for key in specs if not re.search(KEY_PATTERN, key))
    if unmatched:
        verb = "does" if len(unmatched) == 1 else "do"
        listed = ", ".join(repr(key) for key in unmatched)
        raise _invalid(
            field, specs, f"{listed} {verb} not match any of the regexes: {KEY_PATTERN!r}"
        )


def _check_create_body(body: Any) -> None:
    if not isinstance(body, dict):
        raise errors.ValidationError(detail=f"{body!r} is not of type 'object'")
    if "extra_specs" in body:
        check_specs(body["extra_specs"], "extra_specs")
    else:
        raise errors.ValidationError(detail="'extra_specs' is a required property")
    others = sorted(key for key in body if key != "extra_specs")
    if others:
        verb = "was" if len(others) == 1 else "were"
        listed = ", ".join(repr(key) for key in others)
        raise errors.ValidationError(
            detail=f"Additional properties are not allowed ({listed} {verb} unexpected)"
        )


def _check_one_key(body: dict[str, Any]) -> None:
    if not body:
        raise errors.ValidationError(detail=f"{body!r} should be non-empty")
    if len(body) > 1:
        raise errors.ValidationError(detail=f"{body!r} has too many properties")


def _check_values(request: Request, specs: dict[str, Any]) -> None:
    """From 2.86, known keys must have valid values (numbers are checked as strings).

    Nova also refuses numbers longer than 255 digits; the JSON reader turns
    integers that long into floats, so none reaches here.
    """
    if supports(http.version(request), Feature.EXTRA_SPEC_VALIDATION):
        for key, value in specs.items():
            extra_spec_rules.validate(key, str(value))
