"""Request ids: taken from the client or made, set for logging, echoed on every response;
and the request's arrival, by which the embedded loop serves older requests first."""

from __future__ import annotations

import asyncio
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cumulo.context import (
    new_request_id,
    reset_arrival,
    reset_request_id,
    set_arrival,
    set_request_id,
)

# A client may pass its own id (X-OpenStack-Request-ID), as Nova and Keystone honour it.
_VALID = re.compile(r"^req-[0-9a-fA-F-]{36}$")


class RequestIdMiddleware:
    """Outermost layer: every log line and response of a request carries its id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-openstack-request-id":
                candidate = value.decode("latin-1")
                if _VALID.match(candidate):
                    request_id = candidate
                break
        request_id = request_id or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        raw = request_id.encode()
        is_compute = scope["path"].startswith("/compute")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-openstack-request-id", raw))
                if is_compute:
                    headers.append((b"x-compute-request-id", raw))
                message["headers"] = headers
            await send(message)

        token, arrived = set_request_id(request_id), set_arrival(time.time())
        try:
            # Take a turn in the arrival's order (``cumulo.loop``) before any work: else
            # the step that accepted the request would run on into the handler, ahead
            # of the work of every request older than this one.
            await asyncio.sleep(0)
            await self.app(scope, receive, send_with_id)
        finally:
            reset_arrival(arrived)
            reset_request_id(token)
