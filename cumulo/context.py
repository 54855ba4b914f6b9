"""The caller's identity and the request id, carried through every service.

A ``RequestContext`` is made by the API from a validated token, passed to
managers, and serialised into every bus message, so a handler on another host
acts with the same user, project and roles and logs the same request id.
"""

from __future__ import annotations

import contextvars
import time
import uuid

from pydantic import BaseModel, ConfigDict, Field

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cumulo_request_id", default=None
)


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def current_request_id() -> str | None:
    """The request id of the request (or bus message) being handled, if any."""
    return _request_id.get()


def set_request_id(request_id: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(request_id)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


_arrival: contextvars.ContextVar[float] = contextvars.ContextVar("cumulo_arrival", default=0.0)


def current_arrival() -> float:
    """When the request being handled reached the cloud (seconds since the epoch); 0.0 for
    work no request asked for. The embedded loop serves older requests first by it
    (``cumulo.loop``)."""
    return _arrival.get()


def arrival_in(context: contextvars.Context) -> float:
    """``current_arrival`` as it is in ``context`` (a task's or a callback's)."""
    return context.get(_arrival, 0.0)


def set_arrival(arrival: float) -> contextvars.Token[float]:
    return _arrival.set(arrival)


def reset_arrival(token: contextvars.Token[float]) -> None:
    _arrival.reset(token)


def arrival_or_now() -> float:
    """The arrival of the request being handled, or now for work no request asked for."""
    return _arrival.get() or time.time()


class RequestContext(BaseModel):
    """Who is asking, on whose behalf, and under which request id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str = Field(default_factory=new_request_id)
    timestamp: float = Field(default_factory=arrival_or_now)
    """When the request reached the cloud, as Nova's context keeps it; work for it on
    any service is ordered by it."""
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    system_scope: bool = False
    roles: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @classmethod
    def admin_context(cls, request_id: str | None = None) -> RequestContext:
        """An internal context for work no user asked for (bootstrap, periodic tasks)."""
        return cls(request_id=request_id or new_request_id(), roles=("admin", "member", "reader"))
