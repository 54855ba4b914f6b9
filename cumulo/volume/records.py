"""Reading volume rows as a caller may see them.

A project sees its own volumes and attachments; an admin sees every
project's. Anything else is "not found" (404, never 403), so a project
cannot even learn that another's volume exists.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.context import RequestContext
from cumulo.db.models.volume import Volume, VolumeAttachment, VolumeType
from cumulo.volume import errors

DEFAULT_TYPE = "__DEFAULT__"


def may_see(ctx: RequestContext, project_id: str) -> bool:
    return ctx.is_admin or project_id == ctx.project_id


async def get_volume(
    session: AsyncSession, ctx: RequestContext, volume_id: str, *, fresh: bool = False
) -> Volume:
    """The volume ``ctx`` may see, or ``VolumeNotFound``; ``fresh`` rereads a loaded row."""
    stmt = select(Volume).where(Volume.id == volume_id)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    volume = (await session.scalars(stmt)).one_or_none()
    if volume is None or not may_see(ctx, volume.project_id):
        raise errors.VolumeNotFound(volume_id=volume_id)
    return volume


async def get_attachment(
    session: AsyncSession, ctx: RequestContext, attachment_id: str
) -> tuple[VolumeAttachment, Volume]:
    row = (
        await session.execute(
            select(VolumeAttachment, Volume)
            .join(Volume, VolumeAttachment.volume_id == Volume.id)
            .where(VolumeAttachment.id == attachment_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None or not may_see(ctx, row[1].project_id):
        raise errors.VolumeAttachmentNotFound(id=attachment_id)
    return row[0], row[1]


async def find_type(session: AsyncSession, name_or_id: str) -> VolumeType:
    """A volume type by id or by name, as Cinder's ``get_by_name_or_id`` finds it."""
    found = await session.scalar(
        select(VolumeType).where(or_(VolumeType.id == name_or_id, VolumeType.name == name_or_id))
    )
    if found is None:
        raise errors.VolumeTypeNotFoundByName(volume_type_name=name_or_id)
    return found


async def get_type(session: AsyncSession, type_id: str) -> VolumeType:
    found = await session.get(VolumeType, type_id)
    if found is None:
        raise errors.VolumeTypeNotFound(volume_type_id=type_id)
    return found


async def default_type(session: AsyncSession) -> VolumeType:
    found = await session.scalar(select(VolumeType).where(VolumeType.name == DEFAULT_TYPE))
    if found is None:
        raise errors.VolumeTypeNotFoundByName(volume_type_name=DEFAULT_TYPE)
    return found
