"""The query strings of ``os-hypervisors``, as each microversion reads them.

Before 2.33 lists take no parameters; 2.33-2.52 page with ``limit`` and
``marker`` and ignore anything else; from 2.53 every parameter is given at
most once and an unknown one is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from cumulo.api.microversion import APIVersion
from cumulo.compute import http, query
from cumulo.compute.services.schemas import boolean
from cumulo.compute.validation import BOOLEAN_CHOICES, check_length, check_pattern

V2_33 = APIVersion.parse("2.33")
V2_53 = APIVersion.parse("2.53")


def _fqdn(value: str) -> None:
    check_length(value, 1, 255)
    check_pattern(value, "^[a-zA-Z0-9-._]*$")


_BOOLEAN = query.one_of(*BOOLEAN_CHOICES)  # type: ignore[arg-type]
_PAGINATION: dict[str, query.Check] = {
    "limit": query.non_negative_integer,
    "marker": query.any_string,
}
_LIST_V253: dict[str, query.Check] = {
    **_PAGINATION,
    "hypervisor_hostname_pattern": _fqdn,
    "with_servers": _BOOLEAN,
}
_SHOW_V253: dict[str, query.Check] = {"with_servers": _BOOLEAN}


@dataclass(frozen=True)
class ListQuery:
    params: query.Params = field(default_factory=dict)
    limit: int | None = None
    marker: str | None = None
    pattern: str | None = None
    with_servers: bool = False


def _with_servers(params: query.Params) -> bool:
    value = query.last(params, "with_servers")
    return value is not None and boolean(value)


def list_query(request: Request, version: APIVersion) -> ListQuery:
    if version < V2_33:
        return ListQuery()
    if version < V2_53:
        params = query.validate_query(request, _PAGINATION, strict=False)
        return ListQuery(params, http.limit_or_max(request, params), query.last(params, "marker"))
    params = query.validate_single_valued(request, _LIST_V253)
    return ListQuery(
        params,
        http.limit_or_max(request, params),
        query.last(params, "marker"),
        query.last(params, "hypervisor_hostname_pattern"),
        _with_servers(params),
    )


def show_query(request: Request, version: APIVersion) -> bool:
    """Whether a show asks for the host's servers (2.53+)."""
    if version < V2_53:
        return False
    return _with_servers(query.validate_single_valued(request, _SHOW_V253))
