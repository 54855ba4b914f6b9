"""Real fakes for the seams tests cut at (httpx's MockTransport way, not mock.patch)."""

from __future__ import annotations

from cumulo.context import RequestContext
from cumulo.exception import NotAuthenticated

ADMIN_PROJECT = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"
DEMO_PROJECT = "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d"
ADMIN_USER = "1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a"
DEMO_USER = "1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d"

ADMIN = RequestContext(
    user_id=ADMIN_USER, user_name="admin", project_id=ADMIN_PROJECT, project_name="admin",
    roles=("admin", "member", "reader"),
)
DEMO = RequestContext(
    user_id=DEMO_USER, user_name="demo", project_id=DEMO_PROJECT, project_name="demo",
    roles=("member", "reader"),
)


class StaticTokenValidator:
    """Tokens fixed in advance: for testing one API without the identity service."""

    def __init__(self, tokens: dict[str, RequestContext]) -> None:
        self.tokens = tokens

    async def validate(self, token: str, request_id: str) -> RequestContext:
        ctx = self.tokens.get(token)
        if ctx is None:
            raise NotAuthenticated()
        return ctx.model_copy(update={"request_id": request_id})


STATIC_TOKENS = {"admin-token": ADMIN, "demo-token": DEMO}
