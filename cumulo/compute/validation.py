"""Nova's request checks, worded as Nova's JSON-schema validator words them.

Request bodies are pydantic models whose fields use the types below; each
type checks a value the way Nova's schema primitive does (``name``,
``flavor_param_positive``, ``boolean`` …), in the same keyword order, and
fails with jsonschema's own sentence. ``validate_body`` then reports the
first failure in the order Nova would meet it, through
``cumulo.api.validation.SchemaValidationError`` ("Invalid input for
field/attribute ram. Value: abc. 'abc' does not match '^[0-9]+$'").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, NoReturn, TypeAlias, TypeVar

from pydantic import BaseModel, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from cumulo.api.validation import SchemaValidationError
from cumulo.compute import errors

M = TypeVar("M", bound=BaseModel)

MAX_INT = 0x7FFFFFFF
SQL_SP_FLOAT_MAX = 3.40282e38
_NOVA = "nova"
_NAME_ERROR = "nova_invalid_name"
NAME_REASON = "printable characters. Can not start or end with whitespace."


def fail(detail: str) -> NoReturn:
    """Reject the value being checked with jsonschema's sentence ``detail``."""
    raise PydanticCustomError(_NOVA, "{detail}", {"detail": detail})


def _type_names(*names: str) -> str:
    return ", ".join(repr(n) for n in names)


def is_integer(value: Any) -> bool:
    """jsonschema's ``integer``: an int, or a float without a fraction; never a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_from_str(value: Any) -> int | float | None:
    """Nova compares numeric strings with minimum/maximum as numbers."""
    if is_number(value):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None


def check_range(value: Any, minimum: float | None, maximum: float | None) -> None:
    number = number_from_str(value)
    if number is None:
        return
    if minimum is not None and number < minimum:
        fail(f"{number!r} is less than the minimum of {minimum!r}")
    if maximum is not None and number > maximum:
        fail(f"{number!r} is greater than the maximum of {maximum!r}")


def check_length(value: str, min_length: int | None, max_length: int | None) -> None:
    if min_length is not None and len(value) < min_length:
        fail(f"{value!r} should be non-empty" if min_length == 1 else f"{value!r} is too short")
    if max_length is not None and len(value) > max_length:
        fail(f"{value!r} is expected to be empty" if max_length == 0 else f"{value!r} is too long")


def check_pattern(value: str, pattern: str) -> None:
    if not re.search(pattern, value):
        fail(f"{value!r} does not match {pattern!r}")


# --- printable names (Nova's ``name`` format) ------------------------------------------


def _printable(char: str) -> bool:
    """Letters, marks, numbers, punctuation, symbols and plain spaces (not Cc/Cf/Zl/Zp)."""
    if ord(char) >= 0xFFFF:  # Nova's character table stops at U+FFFE
        return False
    category = unicodedata.category(char)
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


def _blank(char: str) -> bool:
    return not _printable(char) or unicodedata.category(char) == "Zs"


def valid_name(value: str) -> bool:
    """Printable, and neither starting nor ending with whitespace (empty passes)."""
    if not value:
        return True
    return all(_printable(c) for c in value) and not _blank(value[0]) and not _blank(value[-1])


@functools.cache
def description_pattern() -> str:
    """The regular expression Nova states for a description: printable characters only."""
    ranges: list[str] = []
    start: int | None = None
    for code in range(0xFFFF + 1):
        inside = code < 0xFFFF and _printable(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append(re.escape(chr(start)))
            if code - 1 != start:
                ranges.append("-" + re.escape(chr(code - 1)))
            start = None
    return "^[" + "".join(ranges) + "]*$"


# --- field types -------------------------------------------------------------------------


Checker = Callable[[Any], Any]


def _name(value: Any) -> str:
    if not isinstance(value, str):
        fail(f"{value!r} is not of type 'string'")
    if not valid_name(value):
        raise PydanticCustomError(_NAME_ERROR, "{detail}", {"detail": NAME_REASON})
    check_length(value, 1, 255)
    return value


Name: TypeAlias = Annotated[str, PlainValidator(_name)]


def keypair_name(pattern: str) -> Checker:
    """Nova's keypair name: a ``name`` that also matches ``pattern``."""

    def check(value: Any) -> str:
        _name(value)
        check_pattern(value, pattern)
        return str(value)

    return check


def string(min_length: int | None = None, max_length: int | None = None) -> Checker:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            fail(f"{value!r} is not of type 'string'")
        check_length(value, min_length, max_length)
        return value

    return check


def enum(*choices: str) -> Checker:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            fail(f"{value!r} is not of type 'string'")
        if value not in choices:
            fail(f"{value!r} is not one of {list(choices)!r}")
        return value

    return check


def flavor_integer(minimum: int) -> Checker:
    """``flavor_param_positive`` (minimum 1) or ``flavor_param_non_negative`` (minimum 0)."""

    def check(value: Any) -> Any:
        if not (is_integer(value) or isinstance(value, str)):
            fail(f"{value!r} is not of type {_type_names('integer', 'string')}")
        if isinstance(value, str):
            check_pattern(value, "^[0-9]+$")
        check_range(value, minimum, MAX_INT)
        return value

    return check


def _rxtx_factor(value: Any) -> Any:
    if not (is_number(value) or isinstance(value, str)):
        fail(f"{value!r} is not of type {_type_names('number', 'string')}")
    if isinstance(value, str):
        check_pattern(value, r"^[0-9]+(\.[0-9]+)?$")
    if is_number(value) and value <= 0:
        fail(f"{value!r} is less than or equal to the minimum of 0")
    check_range(value, None, SQL_SP_FLOAT_MAX)
    return value


RxtxFactor: TypeAlias = Annotated[Any, PlainValidator(_rxtx_factor)]

BOOLEAN_CHOICES: tuple[bool | str, ...] = (
    True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
    False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no",
)  # fmt: skip


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool | str):
        fail(f"{value!r} is not of type {_type_names('boolean', 'string')}")
    if value not in BOOLEAN_CHOICES:
        fail(f"{value!r} is not one of {list(BOOLEAN_CHOICES)!r}")
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "on", "yes"))


Boolean: TypeAlias = Annotated[bool, PlainValidator(_boolean)]


def _flavor_id(value: Any) -> Any:
    if value is None:
        return None
    if not (is_number(value) or isinstance(value, str)):
        fail(f"{value!r} is not of type {_type_names('string', 'number', 'null')}")
    if isinstance(value, str):
        check_length(value, 1, 255)
        check_pattern(value, "^(?! )[a-zA-Z0-9. _-]+(?<! )$")
    return value


FlavorId: TypeAlias = Annotated[Any, PlainValidator(_flavor_id)]


def description(max_length: int) -> Checker:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            fail(f"{value!r} is not of type {_type_names('string', 'null')}")
        check_length(value, 0, max_length)
        if not all(_printable(c) for c in value):
            fail(f"{value!r} does not match {description_pattern()!r}")
        return value

    return check


# --- bodies --------------------------------------------------------------------------------

_VALUE, _MISSING, _EXTRA = 0, 1, 2


def _kind(error: Any) -> int:
    return {"missing": _MISSING, "extra_forbidden": _EXTRA}.get(error["type"], _VALUE)


def _rank(error: Any) -> int:
    """Nova meets property values first, then required keys, then unknown keys; root last."""
    kind = _kind(error)
    return kind + (3 if kind != _VALUE and len(error["loc"]) <= 1 else 0)


def validate_body(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or the 400 Nova gives for the first thing wrong with it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = sorted(exc.errors(), key=_rank)
        error = found[0]
        if error["type"] == _NAME_ERROR:
            raise errors.InvalidName(reason=NAME_REASON) from None
        loc = tuple(error["loc"])
        path = loc if _kind(error) == _VALUE else loc[:-1]
        detail = _detail(error, found)
        if not path:
            raise errors.ValidationError(detail=detail) from None
        value = error["input"] if _kind(error) == _VALUE else _lookup(data, path)
        raise SchemaValidationError(str(path[-1]), value, detail) from None


def _detail(error: Any, found: list[Any]) -> str:
    kind = _kind(error)
    if kind == _MISSING:
        return f"{error['loc'][-1]!r} is a required property"
    if kind == _EXTRA:
        holder = tuple(error["loc"][:-1])
        siblings = [e for e in found if _kind(e) == _EXTRA and tuple(e["loc"][:-1]) == holder]
        extras = sorted(str(e["loc"][-1]) for e in siblings)
        verb = "was" if len(extras) == 1 else "were"
        listed = ", ".join(repr(e) for e in extras)
        return f"Additional properties are not allowed ({listed} {verb} unexpected)"
    if error["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return f"{error['input']!r} is not of type 'object'"
    return str(error["msg"])


def _lookup(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data
