"""Authenticating API requests: ``X-Auth-Token`` → ``RequestContext``.

The identity service provides the ``TokenValidator``; the root application
stores it on every mounted app's state, and handlers depend on ``context``.
"""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request

from cumulo.context import RequestContext
from cumulo.exception import NotAuthenticated


class TokenValidator(Protocol):
    async def validate(self, token: str, request_id: str) -> RequestContext:
        """The context of a valid token; ``NotAuthenticated`` otherwise."""
        ...


async def context(request: Request) -> RequestContext:
    """FastAPI dependency: the caller's context, or 401."""
    token = request.headers.get("x-auth-token")
    if not token:
        raise NotAuthenticated()
    validator: TokenValidator = request.app.state.token_validator
    ctx = await validator.validate(token, request.state.request_id)
    request.state.context = ctx
    return ctx
