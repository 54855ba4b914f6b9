"""``os-services`` request bodies and query strings, one model per microversion that changed them.

Before 2.53 the body names the service by ``host`` and ``binary`` and the
URL names the action; from 2.53 the URL names the service by uuid and the
body says what changes.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, PlainValidator

from cumulo.compute import query
from cumulo.compute.validation import (
    BOOLEAN_CHOICES,
    check_length,
    check_pattern,
    enum,
    fail,
    string,
)


def _fqdn(value: Any) -> str:
    """Nova's ``fqdn``: 1-255 characters of letters, digits, ``-``, ``.`` and ``_``."""
    if not isinstance(value, str):
        fail(f"{value!r} is not of type 'string'")
    check_length(value, 1, 255)
    check_pattern(value, "^[a-zA-Z0-9-._]*$")
    return value


def boolean(value: Any) -> bool:
    """Nova's ``boolean``: true/false or one of their spellings as strings."""
    if not isinstance(value, bool | str):
        fail(f"{value!r} is not of type 'boolean', 'string'")
    if value not in BOOLEAN_CHOICES:
        fail(f"{value!r} is not one of {list(BOOLEAN_CHOICES)!r}")
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "on", "yes"))


Host: TypeAlias = Annotated[str, PlainValidator(_fqdn)]
Text: TypeAlias = Annotated[str, PlainValidator(string(1, 255))]
# Optional, but never null: the validator runs only on a value the client sent.
MaybeText: TypeAlias = Annotated[str | None, PlainValidator(string(1, 255))]
MaybeBoolean: TypeAlias = Annotated[bool | None, PlainValidator(boolean)]
Status: TypeAlias = Annotated[str | None, PlainValidator(enum("enabled", "disabled"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceAction(_Strict):
    """``PUT /os-services/{enable|disable|disable-log-reason}`` before 2.11."""

    host: Host
    binary: Text
    disabled_reason: MaybeText = None


class ServiceActionV211(ServiceAction):
    """2.11 adds ``PUT /os-services/force-down`` and its ``forced_down``."""

    forced_down: MaybeBoolean = None


class ServiceUpdateV253(_Strict):
    """``PUT /os-services/{uuid}``: nothing required; the handler refuses an empty change."""

    status: Status = None
    disabled_reason: MaybeText = None
    forced_down: MaybeBoolean = None


INDEX_QUERY: dict[str, query.Check] = {"host": query.any_string, "binary": query.any_string}
