"""Rows of the compute tables, for tests that read them without booting anything."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.base import utcnow
from cumulo.db.models.hosts import ComputeNode, ComputeService
from cumulo.db.models.instances import Instance

TINY_FLAVOR = {
    "id": "1",
    "name": "m1.tiny",
    "vcpus": 1,
    "memory_mb": 512,
    "root_gb": 1,
    "ephemeral_gb": 0,
    "swap": 0,
    "extra_specs": {},
}


def instance(project_id: str, user_id: str, **fields: Any) -> Instance:
    """An ACTIVE server of ``project_id`` on ``compute-1``, overridden by ``fields``."""
    ident = fields.pop("uuid", None) or str(uuid.uuid4())
    flavor = fields.pop("flavor", TINY_FLAVOR)
    values: dict[str, Any] = {
        "uuid": ident,
        "project_id": project_id,
        "user_id": user_id,
        "display_name": "vm",
        "hostname": "vm",
        "reservation_id": "r-" + ident[:8],
        "image_ref": str(uuid.uuid4()),
        "flavor_id": flavor["id"],
        "flavor": flavor,
        "vcpus": flavor["vcpus"],
        "memory_mb": flavor["memory_mb"],
        "root_gb": flavor["root_gb"],
        "ephemeral_gb": flavor["ephemeral_gb"],
        "vm_state": "active",
        "task_state": None,
        "power_state": 1,
        "host": "compute-1",
        "node": "compute-1",
        "availability_zone": "nova",
        "launched_at": utcnow(),
    }
    values.update(fields)
    return Instance(**values)


async def add_host(
    session: AsyncSession, host: str, *, up: bool = True, disabled: bool = False, **node: Any
) -> ComputeNode:
    """A compute service with a fresh (or, with ``up=False``, no) heartbeat, and its node."""
    session.add(
        ComputeService(
            host=host,
            binary="nova-compute",
            topic="compute",
            disabled=disabled,
            last_seen_up=utcnow() if up else None,
        )
    )
    values: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "host": host,
        "hypervisor_hostname": host,
        "vcpus": 8,
        "memory_mb": 16384,
        "local_gb": 100,
    }
    values.update(node)
    compute_node = ComputeNode(**values)
    session.add(compute_node)
    await session.flush()
    return compute_node
