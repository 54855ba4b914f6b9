"""Query strings checked as Nova checks them: known parameters by their schema, then the rest.

Nova validates ``request.GET`` as a dict of lists. Before microversion 2.75
unknown parameters are dropped silently; from 2.75 (``strict``) they are a
400. A parameter given twice counts by its last value, as webob's does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic_core import PydanticCustomError
from starlette.requests import Request

from cumulo.compute import errors
from cumulo.compute.validation import check_length, check_pattern, check_range, fail

Check = Callable[[str], Any]
Params = dict[str, list[str]]


def any_string(_value: str) -> None:
    """A parameter Nova accepts with any value (checked later, if at all)."""


def non_negative_integer(value: str) -> None:
    check_pattern(value, "^[0-9]*$")
    check_range(value, 0, None)
    check_length(value, 1, None)


def one_of(*choices: str) -> Check:
    def check(value: str) -> None:
        if value not in choices:
            fail(f"{value!r} is not one of {list(choices)!r}")

    return check


PAGINATION: dict[str, Check] = {"limit": non_negative_integer, "marker": any_string}


def validate_query(request: Request, schema: Mapping[str, Check], strict: bool) -> Params:
    """The request's known parameters (name → values), or Nova's 400 for a bad one."""
    params: Params = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    for name, check in schema.items():
        for value in params.get(name, []):
            try:
                check(value)
            except PydanticCustomError as exc:
                raise errors.ValidationError(
                    detail=f"Invalid input for query parameters {name}. Value: {value}. "
                    f"{exc.message()}"
                ) from None
    unknown = sorted(name for name in params if name not in schema)
    if unknown and strict:
        verb = "was" if len(unknown) == 1 else "were"
        listed = ", ".join(repr(name) for name in unknown)
        raise errors.ValidationError(
            detail=f"Additional properties are not allowed ({listed} {verb} unexpected)"
        )
    return {name: values for name, values in params.items() if name in schema}


def last(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def validate_single_valued(request: Request, schema: Mapping[str, Check]) -> Params:
    """Nova's ``single_param`` query: each value checked, none given twice, none unknown."""
    params = validate_query(request, schema, strict=False)
    for name, values in params.items():
        if len(values) > 1:
            raise errors.ValidationError(
                detail=f"Invalid input for query parameters {name}. Value: {values}. "
                f"{values!r} is too long"
            )
    return validate_query(request, schema, strict=True)
