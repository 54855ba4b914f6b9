"""A volume's life as one table, and the one function that moves a volume along it.

::

    creating ──created──▶ available ──reserve──▶ reserved ──attach──▶ attaching
       │                   │  ▲  ▲                                       │
     create_failed     extend │  └──────────── detached ◀── detaching ◀──┤ detach
       ▼                   ▼  │ extended                                 ▼ attached
     error              extending ──extend_failed──▶ error_extending    in-use

    available | error | error_extending ──delete──▶ deleting ──▶ (row removed)

Every change is ``UPDATE volumes SET status = :new WHERE id = :id AND status
IN (:allowed)``: a change whose volume has moved on in the meantime (a race,
or a bus message delivered twice) updates nothing and reports so, and the
caller decides whether that is an error (an API request) or nothing to do (a
redelivered message).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.models.volume import Volume


class Status(StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ATTACHING = "attaching"
    IN_USE = "in-use"
    DETACHING = "detaching"
    EXTENDING = "extending"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_EXTENDING = "error_extending"


class AttachStatus(StrEnum):
    """An attachment's status (and a volume's ``attach_status``), as Cinder names them."""

    RESERVED = "reserved"
    ATTACHING = "attaching"
    ATTACHED = "attached"
    DETACHED = "detached"


@dataclass(frozen=True)
class Transition:
    allowed: tuple[Status, ...]
    new: Status


S = Status
TRANSITIONS: dict[str, Transition] = {
    "created": Transition((S.CREATING,), S.AVAILABLE),
    "create_failed": Transition((S.CREATING,), S.ERROR),
    "extend": Transition((S.AVAILABLE,), S.EXTENDING),
    "extended": Transition((S.EXTENDING,), S.AVAILABLE),
    "extend_failed": Transition((S.EXTENDING,), S.ERROR_EXTENDING),
    "reserve": Transition((S.AVAILABLE,), S.RESERVED),
    "attach": Transition((S.AVAILABLE, S.RESERVED), S.ATTACHING),
    "attached": Transition((S.ATTACHING,), S.IN_USE),
    "detach": Transition((S.RESERVED, S.ATTACHING, S.IN_USE), S.DETACHING),
    "detached": Transition((S.DETACHING,), S.AVAILABLE),
    "still_attached": Transition((S.DETACHING,), S.IN_USE),
    "delete": Transition((S.AVAILABLE, S.ERROR, S.ERROR_EXTENDING), S.DELETING),
}
"""Action → the statuses it may start from and the status it leaves."""

DELETABLE = TRANSITIONS["delete"].allowed


async def transition(session: AsyncSession, volume_id: str, action: str, **values: Any) -> bool:
    """Apply ``action`` to the volume if its status allows it; whether it did.

    ``values`` are other columns to set in the same statement (``size``,
    ``attach_status``…), so they change only together with the status.
    """
    step = TRANSITIONS[action]
    result = await session.execute(
        update(Volume)
        .where(Volume.id == volume_id, Volume.status.in_([s.value for s in step.allowed]))
        .values(status=step.new.value, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def force(session: AsyncSession, volume_id: str, **values: Any) -> bool:
    """Set columns whatever the status is: the admin's ``os-reset_status`` only."""
    result = await session.execute(
        update(Volume)
        .where(Volume.id == volume_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
