"""Versioned notifications (``instance.create.start`` …), fanned out on the ``notifications`` topic.

Whoever wants them serves that topic with ``fanout=True``; with nobody
listening they are dropped, so a cloud without listeners pays one send.
"""

from __future__ import annotations

import logging
from typing import Any

from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.rpc import Bus
from cumulo.rpc.messages import Message

LOG = logging.getLogger(__name__)
TOPIC = "notifications"


class Notification(Message):
    TYPE = "notifications.Notification"

    publisher_id: str
    event_type: str
    priority: str = "INFO"
    timestamp: str
    payload: dict[str, Any] = {}


async def notify(
    bus: Bus | None,
    ctx: RequestContext,
    publisher_id: str,
    event_type: str,
    payload: dict[str, Any],
    priority: str = "INFO",
) -> None:
    """Send a notification; a failure to send is logged, never raised into the work."""
    if bus is None:
        return
    msg = Notification(
        publisher_id=publisher_id,
        event_type=event_type,
        priority=priority,
        timestamp=utcnow().isoformat(),
        payload=payload,
    )
    try:
        await bus.fanout(TOPIC, msg, ctx)
    except Exception:
        LOG.warning("Could not send notification %s", event_type, exc_info=True)
