"""Giving back what an instance holds: ports, volume attachments, volumes, the claim.

Shared by the compute host (a failed build, a delete) and the API (the
delete of an instance that has no host, or whose host is down). Every
step can be repeated: a port already deleted, an attachment already gone
or a claim already released is not an error, so a redelivered delete or a
repair by ``cumulo audit`` finishes what a crash left.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import bindparam, delete, select, update

from cumulo.compute import instances
from cumulo.compute.instance_actions import db as actions
from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.db.models.instances import BlockDeviceMapping, Instance, ServerGroupMember
from cumulo.exception import NotFound
from cumulo.network.rpcapi import NetworkAPI
from cumulo.scheduler import claims
from cumulo.volume.rpcapi import VolumeAPI

LOG = logging.getLogger(__name__)


async def cleanup_allocated_networks(
    db: Database, network_api: NetworkAPI, ctx: RequestContext, instance_uuid: str
) -> None:
    """Delete the ports made for the instance and unbind the user's (Nova's method of that name)."""
    await network_api.deallocate_for_instance(ctx, instance_uuid)
    async with db.write() as session:
        await session.execute(_FORGET_NETWORK_INFO, {"which_uuid": instance_uuid})


async def cleanup_volumes(
    db: Database,
    volume_api: VolumeAPI,
    ctx: RequestContext,
    instance_uuid: str,
    *,
    delete: Collection[str] | None = None,
) -> None:
    """Detach every volume of the instance; delete those ``delete`` names.

    ``delete`` None means the ones marked ``delete_on_termination`` (a
    delete or an aborted build); a reschedule names only the volumes its
    own attempt created, so the next host creates them again.
    """
    async with db.read() as session:
        bdms = list(await session.scalars(_VOLUME_BDMS, {"instance_uuid": instance_uuid}))
    for bdm in bdms:
        if bdm.attachment_id:
            try:
                await volume_api.attachment_delete(ctx, bdm.attachment_id)
            except NotFound:
                pass
        removes = bdm.delete_on_termination if delete is None else bdm.volume_id in delete
        if removes and bdm.volume_id:
            try:
                await volume_api.delete(ctx, bdm.volume_id)
            except NotFound:
                pass
        values: dict[str, object] = {"attachment_id": None, "connection_info": None}
        if removes and bdm.source_type != "volume":
            values["volume_id"] = None
        async with db.write() as session:
            await session.execute(
                update(BlockDeviceMapping).where(BlockDeviceMapping.id == bdm.id).values(**values)
            )


async def finish_delete(db: Database, ctx: RequestContext, instance_uuid: str) -> None:
    """Release the claim and the group membership, soft-delete the instance and its block
    devices, close the action."""
    async with db.write() as session:
        await claims.release(session, instance_uuid)
        await session.execute(_LEAVE_GROUPS, {"instance_uuid": instance_uuid})
        await session.execute(_DELETE_BDMS, {"which_instance": instance_uuid})
        if await instances.soft_delete(session, instance_uuid):
            await actions.action_finish(session, ctx, instance_uuid)


# Built once, run on every delete: building and keying a statement costs more than running it.
_NO_SYNC = {"synchronize_session": False}
"""Their sessions hold none of the rows they change (and a bound parameter is not
evaluated in Python)."""
_FORGET_NETWORK_INFO = (
    update(Instance)
    .where(Instance.uuid == bindparam("which_uuid"))
    .values(network_info=[])
    .execution_options(**_NO_SYNC)
)
_VOLUME_BDMS = select(BlockDeviceMapping).where(
    BlockDeviceMapping.instance_uuid == bindparam("instance_uuid"),
    BlockDeviceMapping.deleted == 0,
    BlockDeviceMapping.volume_id.is_not(None),
)
_LEAVE_GROUPS = (
    delete(ServerGroupMember)
    .where(ServerGroupMember.instance_uuid == bindparam("instance_uuid"))
    .execution_options(**_NO_SYNC)
)
_DELETE_BDMS = (
    update(BlockDeviceMapping)
    .where(
        BlockDeviceMapping.instance_uuid == bindparam("which_instance"),
        BlockDeviceMapping.deleted == 0,
    )
    .values(deleted=BlockDeviceMapping.id)
    .execution_options(**_NO_SYNC)
)
