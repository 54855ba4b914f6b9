"""Guests whose servers are deleted (Nova's ``_cleanup_running_deleted_instances``).

A delete that could not reach its compute host (the host was down, or its
process died between writing the row and destroying the guest) leaves a guest
running for a server the database says is gone. Each host looks for such
guests among its own and, with ``running_deleted_instance_action = reap``,
destroys them with their disks; ``log`` only reports them. A guest the
database knows nothing of is not ours to touch and is left alone.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.db.models.instances import Instance
from cumulo.network.model import NetworkInfo
from cumulo.virt.driver import ComputeDriver

LOG = logging.getLogger(__name__)


async def reap_deleted_guests(
    db: Database, driver: ComputeDriver, host: str, action: str
) -> list[str]:
    """The uuids of this host's guests whose servers are deleted; destroyed when ``reap``."""
    guests = await driver.list_instances()
    if not guests:
        return []
    async with db.read() as session:
        deleted = list(
            await session.scalars(
                select(Instance).where(Instance.uuid.in_(guests), Instance.deleted != 0)
            )
        )
    ctx = RequestContext.admin_context()
    for instance in deleted:
        if action == "reap":
            LOG.warning("Destroying the guest of deleted instance %s on %s", instance.uuid, host)
            await driver.destroy(ctx, instance, NetworkInfo())
        else:
            LOG.warning("Instance %s is deleted but its guest runs on %s", instance.uuid, host)
    return [instance.uuid for instance in deleted]
