"""The caller's identity and the request id, carried through every service.

A ``RequestContext`` is made by the API from a validated token, passed to
managers, and serialised into every bus message, so a handler on another host
acts with the same user, project and roles and logs the same request id.
"""

from __future__ import annotations

import contextvars
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


class RequestContext(BaseModel):
    """Who is asking, on whose behalf, and under which request id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str = Field(default_factory=new_request_id)
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
