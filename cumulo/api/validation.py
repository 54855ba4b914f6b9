"""Reading and validating request bodies, with OpenStack's wording for what is wrong.

A body is parsed with ``read_json`` (415 for a wrong content type, 400 for
malformed JSON, 413 for an oversized body) and checked against a pydantic
model with ``validate``. A failure becomes ``SchemaValidationError``, which
renders the way each API words it:

- Nova/Cinder: ``Invalid input for field/attribute ram. Value: abc. 'abc' is not of type 'integer'``
- Keystone: ``Invalid input for field 'name': 'x…' is too long``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from cumulo import exception

M = TypeVar("M", bound=BaseModel)

JSON_TYPES = ("application/json", "application/vnd.openstack.compute+json")

_TYPE_NAMES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "dict": "object",
    "list": "array",
    "model": "object",
}


class SchemaValidationError(exception.Invalid):
    """A request field failed its schema; ``field`` names it in the message."""

    def __init__(self, field: str, value: Any, detail: str) -> None:
        self.field = field
        self.value = value
        self.detail = detail
        super().__init__(self.render("nova"))

    def render(self, style: str) -> str:
        if style == "keystone":
            return f"Invalid input for field '{self.field}': {self.detail}"
        return f"Invalid input for field/attribute {self.field}. Value: {self.value}. {self.detail}"

    @classmethod
    def from_pydantic(
        cls, errors: Sequence[Any], data: Any, root: str = ""
    ) -> SchemaValidationError:
        return cls._from_error(errors[0], data, root)

    @classmethod
    def from_fastapi(cls, errors: Sequence[Any]) -> SchemaValidationError:
        err = dict(errors[0])
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        field = loc[-1] if loc else "body"
        return cls(field, err.get("input"), _detail(err, field))

    @classmethod
    def _from_error(cls, err: Any, data: Any, root: str) -> SchemaValidationError:
        loc = [str(p) for p in err.get("loc", ())]
        if err["type"] in ("missing", "extra_forbidden"):
            # jsonschema reports these against the object that holds the key.
            field = loc[-2] if len(loc) > 1 else (root or "body")
            holder = _lookup(data, loc[:-1])
        else:
            field = loc[-1] if loc else (root or "body")
            holder = err.get("input")
        return cls(field, holder, _detail(err, loc[-1] if loc else field))


def _lookup(data: Any, path: Sequence[str]) -> Any:
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
    return data


def _detail(err: Any, key: str) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"'{key}' is a required property"
    if kind == "extra_forbidden":
        return f"Additional properties are not allowed ('{key}' was unexpected)"
    if kind == "string_too_long":
        return f"{value!r} is too long"
    if kind == "string_too_short":
        return f"{value!r} is too short" if value else f"{value!r} should be non-empty"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{value!r} is less than the minimum of {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{value!r} is greater than the maximum of {ctx.get('le', ctx.get('lt'))}"
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match {ctx.get('pattern')!r}"
    if kind in ("literal_error", "enum"):
        return f"{value!r} is not one of {ctx.get('expected')}"
    for prefix, name in _TYPE_NAMES.items():
        if kind.startswith(prefix + "_") or kind == prefix + "_type":
            return f"{value!r} is not of type '{name}'"
    return str(err.get("msg", "is not valid"))


async def read_json(
    request: Request,
    max_bytes: int = 1_048_576,
    wrong_type: type[exception.CumuloError] = exception.UnsupportedMediaType,
) -> Any:
    """The request's JSON body, or the error OpenStack gives for a bad one."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in JSON_TYPES:
        raise wrong_type()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise exception.PayloadTooLarge()
    body = await request.body()
    if len(body) > max_bytes:
        raise exception.PayloadTooLarge()
    if not body.strip():
        raise exception.MalformedRequestBody(reason="no request body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise exception.MalformedRequestBody(reason=f"invalid JSON: {exc.args[0]}") from exc


def validate(model: type[M], data: Any, root: str = "") -> M:
    """``data`` as ``model``, or ``SchemaValidationError`` naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SchemaValidationError.from_pydantic(exc.errors(), data, root) from exc
