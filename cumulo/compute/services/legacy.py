"""``PUT /os-services/{action}`` before 2.53: enable, disable, disable-log-reason, force-down.

The body names the service by ``host`` and ``binary``; the answer repeats
them with what changed, not the whole service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.api.microversion import APIVersion
from cumulo.compute.services import db
from cumulo.compute.services.errors import ServiceUpdateNotSupported
from cumulo.compute.services.schemas import ServiceAction, ServiceActionV211

V2_11 = APIVersion.parse("2.11")

Body = ServiceAction | ServiceActionV211
Action = Callable[[AsyncSession, Body], Awaitable[dict[str, Any]]]


async def _update(session: AsyncSession, body: Body, values: dict[str, Any]) -> None:
    if body.binary != db.COMPUTE:
        raise ServiceUpdateNotSupported(binary=body.binary)
    service = await db.get_by_host_and_binary(session, body.host, body.binary)
    for name, value in values.items():
        setattr(service, name, value)


async def _set_status(
    session: AsyncSession, body: Body, disabled: bool, reason: str | None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "host": body.host,
        "binary": body.binary,
        "status": "disabled" if disabled else "enabled",
    }
    if reason:
        answer["disabled_reason"] = reason
    await _update(session, body, {"disabled": disabled, "disabled_reason": reason})
    return answer


async def enable(session: AsyncSession, body: Body) -> dict[str, Any]:
    return await _set_status(session, body, False, None)


async def disable(session: AsyncSession, body: Body) -> dict[str, Any]:
    return await _set_status(session, body, True, None)


async def disable_log_reason(session: AsyncSession, body: Body) -> dict[str, Any]:
    if body.disabled_reason is None:
        raise exception.Invalid("Missing disabled reason field")
    return await _set_status(session, body, True, body.disabled_reason)


async def force_down(session: AsyncSession, body: Body) -> dict[str, Any]:
    forced = getattr(body, "forced_down", None)
    if forced is None:
        raise exception.Invalid("Missing forced_down field")
    await _update(session, body, {"forced_down": forced})
    return {"host": body.host, "binary": body.binary, "forced_down": forced}


def actions(version: APIVersion) -> dict[str, Action]:
    """The actions a URL may name at ``version``."""
    table: dict[str, Action] = {
        "enable": enable,
        "disable": disable,
        "disable-log-reason": disable_log_reason,
    }
    if version >= V2_11:
        table["force-down"] = force_down
    return table


def body_model(version: APIVersion) -> type[Body]:
    return ServiceActionV211 if version >= V2_11 else ServiceAction
