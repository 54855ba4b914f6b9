"""Instance action and event bodies, shaped by the request's microversion."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

from cumulo.api.microversion import APIVersion
from cumulo.db.models.instances import InstanceAction, InstanceActionEvent

V2_58 = APIVersion.parse("2.58")


def timestamp(value: datetime.datetime | None) -> str | None:
    """Nova's timestamps in these bodies: ISO 8601, microseconds, no zone."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def host_id(project_id: str | None, host: str | None) -> str:
    """Nova's obfuscated host id: sha224 of project and host, "" without a host."""
    if not host:
        return ""
    return hashlib.sha224(f"{project_id or ''}{host}".encode()).hexdigest()


def action(row: InstanceAction, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": row.action,
        "instance_uuid": row.instance_uuid,
        "request_id": row.request_id,
        "user_id": row.user_id,
        "project_id": row.project_id,
        "start_time": timestamp(row.start_time),
        "message": row.message,
    }
    if version >= V2_58:
        body["updated_at"] = timestamp(row.updated_at)
    return body


@dataclass(frozen=True)
class EventFields:
    """Which optional keys of an event the caller sees (by policy and microversion)."""

    traceback: bool = False
    host: bool = False
    host_id: bool = False
    details: bool = False


def event(row: InstanceActionEvent, project_id: str | None, fields: EventFields) -> dict[str, Any]:
    """One event; ``project_id`` (the action's, else the server's) salts ``hostId``."""
    body: dict[str, Any] = {
        "event": row.event,
        "start_time": timestamp(row.start_time),
        "finish_time": timestamp(row.finish_time),
        "result": row.result,
    }
    if fields.traceback:
        body["traceback"] = row.traceback
    if fields.host:
        body["host"] = row.host
    if fields.host_id:
        body["hostId"] = host_id(project_id, row.host)
    if fields.details:
        body["details"] = row.details
    return body
