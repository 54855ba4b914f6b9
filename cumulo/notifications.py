"""Versioned notifications (``instance.create.start`` …), fanned out on the ``notifications`` topic.

Whoever wants them serves that topic with ``fanout=True``; with nobody
listening they are dropped, so a cloud without listeners pays one send.
``instance_payload`` is what every ``instance.*`` notification carries;
``exception_payload`` that of ``compute.exception``, sent when a compute
host's work on an instance fails (Nova's ``wrap_exception``).
"""

from __future__ import annotations

import logging
from typing import Any

from cumulo.compute.states import PowerState
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.instances import Instance
from cumulo.exception import CumuloError
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


def instance_payload(instance: Instance) -> dict[str, Any]:
    return {
        "uuid": instance.uuid,
        "display_name": instance.display_name,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "host": instance.host,
        "node": instance.node,
        "state": instance.vm_state,
        "task_state": instance.task_state,
        "power_state": PowerState(instance.power_state).name.lower(),
        "flavor": instance.flavor,
        "image_uuid": instance.image_ref,
    }


def exception_payload(function_name: str, exc: BaseException) -> dict[str, Any]:
    """What failed, and why: the fields of Nova's ``ExceptionPayload``."""
    message = exc.format_message() if isinstance(exc, CumuloError) else str(exc)
    return {
        "module_name": type(exc).__module__,
        "function_name": function_name,
        "exception": type(exc).__name__,
        "exception_message": message,
    }
