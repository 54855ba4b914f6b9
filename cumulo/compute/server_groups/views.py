"""Server group bodies, shaped by the request's microversion.

2.13 adds ``project_id`` and ``user_id``; 2.64 shows ``policy`` and
``rules`` instead of ``policies`` and the always-empty ``metadata``.
"""

from __future__ import annotations

from typing import Any

from cumulo.api.microversion import APIVersion
from cumulo.db.models.instances import ServerGroup

V2_13 = APIVersion.parse("2.13")
V2_64 = APIVersion.parse("2.64")


def group(row: ServerGroup, members: list[str], version: APIVersion) -> dict[str, Any]:
    """One group; ``members`` are the uuids of its live servers."""
    body: dict[str, Any] = {"id": row.uuid, "name": row.name}
    if version >= V2_64:
        body["policy"] = row.policy
        body["rules"] = dict(row.rules or {})
    else:
        body["policies"] = [row.policy]
        body["metadata"] = {}
    body["members"] = members
    if version >= V2_13:
        body["project_id"] = row.project_id
        body["user_id"] = row.user_id
    return body
