"""Does a project exist? Nova asks Keystone; cumulo reads the identity tables it shares."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.db.models.identity import Project


class InvalidProject(exception.Invalid):
    message = "Project ID %(project_id)s is not a valid project."


async def verify_project_id(session: AsyncSession, project_id: str) -> None:
    """Raise ``InvalidProject`` (400) unless ``project_id`` names a project."""
    found = await session.scalar(select(Project.id).where(Project.id == project_id))
    if found is None:
        raise InvalidProject(project_id=project_id)
