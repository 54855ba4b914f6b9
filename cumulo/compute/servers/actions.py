"""``POST /servers/{id}/action``: one handler per action, chosen by the body's one key
(Nova's ``@wsgi.action``).

The power actions answer 202 with no body once the API has moved the
server's task_state and cast the work to its host; the state a server must
be in is ``cumulo.compute.states``'s (a 409 otherwise).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.compute import http
from cumulo.compute.http import Route
from cumulo.compute.servers import schemas
from cumulo.compute.servers.api import compute_api
from cumulo.compute.validation import validate_body
from cumulo.context import RequestContext
from cumulo.exception import Invalid

Action = Callable[[Request, RequestContext, str, Any], Awaitable[Response]]


async def action(
    request: Request, server_id: str, ctx: RequestContext = Depends(http.caller)
) -> Response:
    body = await read_json(request, http.runtime(request).settings.api.max_body_bytes)
    if not isinstance(body, dict) or len(body) != 1:
        raise Invalid("Malformed request body")
    name = next(iter(body))
    handler = ACTIONS.get(name)
    if handler is None:
        raise Invalid(f"There is no such action: {name}")
    return await handler(request, ctx, server_id, body)


async def _stop(request: Request, ctx: RequestContext, server_id: str, body: Any) -> Response:
    await compute_api(request).stop(ctx, server_id)
    return Response(status_code=202)


async def _start(request: Request, ctx: RequestContext, server_id: str, body: Any) -> Response:
    await compute_api(request).start(ctx, server_id)
    return Response(status_code=202)


async def _reboot(request: Request, ctx: RequestContext, server_id: str, body: Any) -> Response:
    reboot_type = validate_body(schemas.RebootBody, body).reboot.type.upper()
    await compute_api(request).reboot(ctx, server_id, "SOFT" if reboot_type == "SOFT" else "HARD")
    return Response(status_code=202)


async def _console_output(
    request: Request, ctx: RequestContext, server_id: str, body: Any
) -> Response:
    args = body["os-getConsoleOutput"]
    length = args.get("length") if isinstance(args, dict) else None
    if length is not None:
        length = int(length)
        if length < -1:
            raise Invalid("Invalid input for field/attribute length.")
    output = await compute_api(request).get_console_output(
        ctx, server_id, None if length in (None, -1) else length
    )
    return JSON({"output": output}, 200)


ACTIONS: dict[str, Action] = {
    "os-stop": _stop,
    "os-start": _start,
    "reboot": _reboot,
    "os-getConsoleOutput": _console_output,
}

ROUTES: tuple[Route, ...] = (
    Route("POST", "/v2.1/servers/{server_id}/action", action, "servers:action"),
)
