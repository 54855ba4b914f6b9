"""``os-server-groups`` request bodies and query strings, one model per microversion.

Before 2.64 a group has ``policies``, a list of exactly one policy; from
2.64 a ``policy`` and, for anti-affinity only, ``rules``. 2.15 adds the
soft policies. Each check fails as Nova's JSON schema fails, in its order:
the list's one item before its length, so ``["bad", "x"]`` is reported
against field ``0``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    PlainValidator,
)
from pydantic_core import CoreSchema, core_schema

from cumulo.compute import query
from cumulo.compute.validation import (
    Name,
    check_length,
    check_pattern,
    check_range,
    enum,
    fail,
    is_integer,
)

AFFINITY = ("anti-affinity", "affinity")
SOFT_AFFINITY = ("soft-anti-affinity", "soft-affinity")


class _FirstItem:
    """JSON schema's ``prefixItems: [item]``: the first element checked, the rest let be."""

    def __init__(self, item: Any) -> None:
        self.item = item

    def __get_pydantic_core_schema__(
        self, _source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        items = [handler.generate_schema(self.item), core_schema.any_schema()]
        return core_schema.tuple_schema(items, variadic_item_index=1)


def _array(value: Any) -> Any:
    """The list's own checks that come before its item's: type, and (at length 0) minItems."""
    if not isinstance(value, list):
        fail(f"{value!r} is not of type 'array'")
    if not value:
        fail("[] should be non-empty")
    return value


def _unique(values: list[Any]) -> bool:
    """jsonschema's ``uniqueItems``: equal values repeat, but ``True`` is not ``1``."""
    keyed = [(isinstance(v, bool), v) for v in values]
    return all(keyed[i] != keyed[j] for i in range(len(keyed)) for j in range(i))


def _one_policy(value: tuple[Any, ...]) -> list[str]:
    values = list(value)
    if not _unique(values):
        fail(f"{values!r} has non-unique elements")
    if len(values) > 1:
        fail(f"{values!r} is too long")
    return values


def _positive_integer(value: Any) -> int:
    """Nova's ``positive_integer``: an integer or a digit string, at least 1."""
    if not (is_integer(value) or isinstance(value, str)):
        fail(f"{value!r} is not of type 'integer', 'string'")
    if isinstance(value, str):
        check_pattern(value, "^[0-9]*$")
    check_range(value, 1, None)
    if isinstance(value, str):
        check_length(value, 1, None)
    return int(value)


Policies: TypeAlias = Annotated[
    list[str],
    _FirstItem(Annotated[str, PlainValidator(enum(*AFFINITY))]),
    BeforeValidator(_array),
    AfterValidator(_one_policy),
]
PoliciesV215: TypeAlias = Annotated[
    list[str],
    _FirstItem(Annotated[str, PlainValidator(enum(*AFFINITY, *SOFT_AFFINITY))]),
    BeforeValidator(_array),
    AfterValidator(_one_policy),
]
Policy: TypeAlias = Annotated[str, PlainValidator(enum(*AFFINITY, *SOFT_AFFINITY))]
MaxServerPerHost: TypeAlias = Annotated[int | None, PlainValidator(_positive_integer)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rules(_Strict):
    max_server_per_host: MaxServerPerHost = None

    def stored(self) -> dict[str, int]:
        return (
            {}
            if self.max_server_per_host is None
            else {"max_server_per_host": self.max_server_per_host}
        )


class NewGroup(_Strict):
    name: Name
    policies: Policies

    @property
    def policy(self) -> str:
        return str(self.policies[0])

    @property
    def rules(self) -> Rules:
        return Rules()


class NewGroupV215(NewGroup):
    policies: PoliciesV215


class NewGroupV264(_Strict):
    name: Name
    policy: Policy
    rules: Rules = Rules()


class CreateBody(_Strict):
    server_group: NewGroup


class CreateBodyV215(_Strict):
    server_group: NewGroupV215


class CreateBodyV264(_Strict):
    server_group: NewGroupV264


AnyCreateBody: TypeAlias = CreateBody | CreateBodyV215 | CreateBodyV264

INDEX_QUERY: dict[str, query.Check] = {
    "all_projects": query.any_string,
    "limit": query.non_negative_integer,
    "offset": query.non_negative_integer,
}
