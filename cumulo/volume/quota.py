"""Volume quotas: limits, usage counted from the volumes themselves, and the checked write.

A limit is the project's row in ``volume_quotas`` if it has one, else the
default (``settings.volume.quota_*``, Cinder's defaults for the rest; per-type
limits default to -1, unlimited). Usage is counted from the ``volumes`` table
when asked, so it cannot drift: a volume counts from the moment its row is
written until its row is removed (``error`` and ``deleting`` ones included,
as Cinder only releases quota once a delete has finished).

``claim`` is the check-and-write: called inside the write transaction that
inserts or grows a volume, it first takes the project's lock row (made
beforehand by ``ensure_lock_row``), then counts and checks. A second
transaction of the same project waits at the lock until the first commits
and then counts its volume too, so concurrent creates can never take a
project past its limit, on SQLite, PostgreSQL or MariaDB alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.config import VolumeSettings
from cumulo.db import Database
from cumulo.db.models.volume import Volume, VolumeQuota, VolumeQuotaLock, VolumeType
from cumulo.volume import errors

UNLIMITED = -1
PER_TYPE = ("volumes", "snapshots", "gigabytes")
"""Resources that also have a limit per volume type, shown as ``volumes_<type name>``."""


def default_limits(settings: VolumeSettings, type_names: list[str]) -> dict[str, int]:
    """Every resource's default, in the order Cinder lists them."""
    limits = {
        "volumes": settings.quota_volumes,
        "snapshots": settings.quota_snapshots,
        "gigabytes": settings.quota_gigabytes,
        "backups": settings.quota_backups,
        "backup_gigabytes": settings.quota_backup_gigabytes,
        "groups": 10,
        "per_volume_gigabytes": UNLIMITED,
    }
    for name in type_names:
        for resource in PER_TYPE:
            limits[f"{resource}_{name}"] = UNLIMITED
    return limits


async def type_names(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(VolumeType.name).order_by(VolumeType.created_at)))


async def project_limits(
    session: AsyncSession, settings: VolumeSettings, project_id: str
) -> dict[str, int]:
    limits = default_limits(settings, await type_names(session))
    rows = await session.execute(
        select(VolumeQuota.resource, VolumeQuota.hard_limit).where(
            VolumeQuota.project_id == project_id
        )
    )
    for resource, hard_limit in rows:
        if resource in limits:
            limits[resource] = hard_limit
    return limits


async def set_limits(session: AsyncSession, project_id: str, limits: Mapping[str, int]) -> None:
    rows = await session.scalars(
        select(VolumeQuota).where(
            VolumeQuota.project_id == project_id, VolumeQuota.resource.in_(list(limits))
        )
    )
    existing = {row.resource: row for row in rows}
    for resource, hard_limit in limits.items():
        row = existing.get(resource)
        if row is None:
            session.add(
                VolumeQuota(project_id=project_id, resource=resource, hard_limit=hard_limit)
            )
        else:
            row.hard_limit = hard_limit


async def project_usage(
    session: AsyncSession, project_id: str, *, locking: bool = False
) -> dict[str, int]:
    """Volumes and gigabytes of ``project_id``, in total and per volume type.

    ``locking`` reads the rows with a shared lock: on MariaDB, whose
    transactions otherwise read the snapshot of their first query, a locking
    read sees what the transaction that held the project lock just committed.
    """
    stmt = (
        select(VolumeType.name, Volume.size)
        .join(VolumeType, Volume.volume_type_id == VolumeType.id)
        .where(Volume.project_id == project_id)
    )
    if locking:
        stmt = stmt.with_for_update(read=True, of=Volume)
    usage = {"volumes": 0, "gigabytes": 0}
    for type_name, size in await session.execute(stmt):
        for key, amount in (("volumes", 1), ("gigabytes", size)):
            usage[key] += amount
            usage[f"{key}_{type_name}"] = usage.get(f"{key}_{type_name}", 0) + amount
    return usage


async def ensure_lock_row(db: Database, project_id: str) -> None:
    """Make the project's lock row, in a transaction of its own, if it is not there yet.

    Two first-ever creates of one project may both try; the loser's insert
    fails (a duplicate, or on MariaDB possibly a deadlock) and finds the row.
    """
    for _ in range(5):
        async with db.read() as session:
            if await session.get(VolumeQuotaLock, project_id) is not None:
                return
        try:
            async with db.write() as session:
                session.add(VolumeQuotaLock(project_id=project_id, generation=0))
            return
        except (IntegrityError, OperationalError):
            continue
    raise RuntimeError(f"could not make the quota lock row of project {project_id}")


async def lock_project(session: AsyncSession, project_id: str) -> None:
    """Hold the project's quota lock until the transaction ends (see ``ensure_lock_row``)."""
    bump = (
        update(VolumeQuotaLock)
        .where(VolumeQuotaLock.project_id == project_id)
        .values(generation=VolumeQuotaLock.generation + 1)
    )
    if not (await session.execute(bump)).rowcount:  # type: ignore[attr-defined]
        raise RuntimeError(f"project {project_id} has no quota lock row")


@dataclass(frozen=True)
class Claim:
    """What one request adds to a project: ``volumes`` new volumes, ``gigabytes`` GiB."""

    project_id: str
    type_name: str
    volumes: int
    gigabytes: int
    volume_size: int


async def claim(session: AsyncSession, settings: VolumeSettings, want: Claim) -> None:
    """Lock the project and raise Cinder's 413 unless it can take ``want`` more."""
    await lock_project(session, want.project_id)
    limits = await project_limits(session, settings, want.project_id)
    per_volume = limits["per_volume_gigabytes"]
    if per_volume != UNLIMITED and want.volume_size > per_volume:
        raise errors.VolumeSizeExceedsLimit(size=want.volume_size, limit=per_volume)
    usage = await project_usage(session, want.project_id, locking=True)
    for name in ("gigabytes", f"gigabytes_{want.type_name}"):
        limit, used = limits.get(name, UNLIMITED), usage.get(name, 0)
        if want.gigabytes > 0 and limit != UNLIMITED and used + want.gigabytes > limit:
            raise errors.VolumeSizeExceedsAvailableQuota(
                name=name, requested=want.gigabytes, quota=limit, consumed=used
            )
    for name in ("volumes", f"volumes_{want.type_name}"):
        limit, used = limits.get(name, UNLIMITED), usage.get(name, 0)
        if want.volumes > 0 and limit != UNLIMITED and used + want.volumes > limit:
            raise errors.VolumeLimitExceeded(allowed=limit, name=name)
