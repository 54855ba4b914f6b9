"""``os-services`` response bodies, shaped by the request's microversion."""

from __future__ import annotations

import datetime
from typing import Any

from cumulo.api.microversion import APIVersion
from cumulo.compute.services.ids import uses_uuids
from cumulo.db.models.hosts import ComputeService

V2_11 = APIVersion.parse("2.11")


def _timestamp(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def status(service: ComputeService) -> str:
    return "disabled" if service.disabled else "enabled"


def detail(service: ComputeService, version: APIVersion, *, up: bool, zone: str) -> dict[str, Any]:
    """One service; ``updated_at`` is its last heartbeat."""
    body: dict[str, Any] = {
        "binary": service.binary,
        "host": service.host,
        "id": service.uuid if uses_uuids(version) else service.id,
        "zone": zone,
        "status": status(service),
        "state": "up" if up else "down",
        "updated_at": _timestamp(service.last_seen_up),
        "disabled_reason": service.disabled_reason,
    }
    if version >= V2_11:
        body["forced_down"] = service.forced_down
    return body
