"""Server group rows: find one, page through a project's, create, delete, and their members.

A group is visible to its own project, and to admins whatever its project
(Nova's ``InstanceGroup`` queries filter by project for non-admins), so
another project's group is simply not found. Members are instance uuids;
only those of live instances are shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.compute.errors import InstanceGroupNotFound
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance, ServerGroup, ServerGroupMember


def _visible(ctx: RequestContext) -> Select[ServerGroup]:
    stmt = select(ServerGroup)
    if not ctx.is_admin:
        stmt = stmt.where(ServerGroup.project_id == ctx.project_id)
    return stmt


async def get_group(session: AsyncSession, ctx: RequestContext, group_uuid: str) -> ServerGroup:
    """The group ``group_uuid`` if ``ctx`` may see it, else ``InstanceGroupNotFound``."""
    group = await session.scalar(_visible(ctx).where(ServerGroup.uuid == group_uuid))
    if group is None:
        raise InstanceGroupNotFound(group_uuid=group_uuid)
    return group


async def list_groups(
    session: AsyncSession, project_id: str | None, limit: int, offset: int
) -> list[ServerGroup]:
    """A page of ``project_id``'s groups (of every project's for None), oldest first."""
    stmt = select(ServerGroup)
    if project_id is not None:
        stmt = stmt.where(ServerGroup.project_id == project_id)
    stmt = stmt.order_by(ServerGroup.id).offset(offset).limit(limit)
    return list(await session.scalars(stmt))


async def create_group(session: AsyncSession, group: ServerGroup) -> ServerGroup:
    session.add(group)
    await session.flush()
    return group


async def delete_group(session: AsyncSession, group_id: int) -> None:
    """Delete the group and its membership rows (the servers themselves stay)."""
    await session.execute(delete(ServerGroupMember).where(ServerGroupMember.group_id == group_id))
    await session.execute(delete(ServerGroup).where(ServerGroup.id == group_id))


async def live_members(
    session: AsyncSession, groups: Iterable[ServerGroup]
) -> dict[int, list[str]]:
    """Each group's members that are live instances, in the order they joined."""
    ids = [g.id for g in groups]
    members: dict[int, list[str]] = {group_id: [] for group_id in ids}
    if not ids:
        return members
    stmt = (
        select(ServerGroupMember.group_id, ServerGroupMember.instance_uuid)
        .join(Instance, Instance.uuid == ServerGroupMember.instance_uuid)
        .where(ServerGroupMember.group_id.in_(ids), Instance.deleted == 0)
        .order_by(ServerGroupMember.id)
    )
    for group_id, instance_uuid in await session.execute(stmt):
        members[group_id].append(instance_uuid)
    return members
