"""The one place where domain errors become HTTP responses.

Each API renders errors in its own OpenStack dialect:

- ``nova`` (compute, and Cinder, which copied it): ``{"itemNotFound": {"code": 404, "message": …}}``
- ``keystone``: ``{"error": {"code": 404, "message": …, "title": "Not Found"}}``
- ``neutron``: ``{"NeutronError": {"type": "NetworkNotFound", "message": …, "detail": ""}}``
  (``type`` is the exception's class name, so network errors are named as Neutron names them)
- ``glance``: ``{"code": "404 Not Found", "title": "Not Found", "message": …}`` (webob's JSON)

The status comes from the exception class (``cumulo.exception``), resolved by
MRO; the fault name from the status. Unexpected exceptions become a 500 that
names the request id and is logged with its traceback; the client never sees one.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cumulo import exception
from cumulo.api.validation import SchemaValidationError
from cumulo.context import current_request_id

LOG = logging.getLogger(__name__)

Style = Literal["nova", "keystone", "neutron", "glance"]

NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


# Neutron's type for errors that are not a named domain error (webob's class names).
NEUTRON_GENERIC_TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    406: "HTTPNotAcceptable",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType",
}


def fault_body(style: Style, code: int, message: str, kind: str | None = None) -> dict[str, Any]:
    """The error body of ``style``; ``kind`` names the error where the dialect shows it."""
    title = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
    if style == "keystone":
        return {"error": {"code": code, "message": message, "title": title}}
    if style == "neutron":
        kind = kind or NEUTRON_GENERIC_TYPES.get(code, "HTTPInternalServerError")
        return {"NeutronError": {"type": kind, "message": message, "detail": ""}}
    if style == "glance":
        return {"code": f"{code} {title}", "title": title, "message": message}
    return {NOVA_FAULT_NAMES.get(code, "computeFault"): {"code": code, "message": message}}


def _kind(exc: exception.CumuloError) -> str | None:
    """The Neutron ``type`` of a named domain error; generic base classes get webob's."""
    if type(exc).__module__ == exception.__name__ or isinstance(exc, SchemaValidationError):
        return None
    return type(exc).__name__


def message_for(style: Style, exc: exception.CumuloError) -> str:
    if isinstance(exc, SchemaValidationError):
        return exc.render(style)
    return exc.format_message()


def error_response(style: Style, exc: exception.CumuloError) -> Response:
    headers = {"WWW-Authenticate": 'Keystone uri="/identity/v3"'} if exc.code == 401 else None
    return Response(
        orjson.dumps(fault_body(style, exc.code, message_for(style, exc), _kind(exc))),
        status_code=exc.code,
        media_type="application/json",
        headers=headers,
    )


def internal_error_response(style: Style) -> Response:
    message = (
        "Unexpected API Error. Please report this at the cumulo issue tracker and "
        f"attach the request id {current_request_id()} and the cumulo log."
    )
    return Response(
        orjson.dumps(fault_body(style, 500, message)),
        status_code=500,
        media_type="application/json",
    )


_HTTP_TO_DOMAIN: dict[int, type[exception.CumuloError]] = {
    404: exception.NotFound,
    405: exception.MethodNotAllowed,
}


def install_error_handlers(app: FastAPI, style: Style) -> None:
    """Make ``app`` answer every error in ``style``, including routing errors and 500s."""

    async def on_domain_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, exception.CumuloError)
        if exc.code >= 500:
            LOG.error("%s: %s", type(exc).__name__, exc.format_message())
        return error_response(style, exc)

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        cls = _HTTP_TO_DOMAIN.get(exc.status_code, exception.CumuloError)
        domain = cls() if cls is not exception.CumuloError else exception.CumuloError(exc.detail)
        if cls is exception.CumuloError:
            return Response(
                orjson.dumps(fault_body(style, exc.status_code, str(exc.detail))),
                status_code=exc.status_code,
                media_type="application/json",
            )
        return error_response(style, domain)

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(style, SchemaValidationError.from_fastapi(exc.errors()))

    app.add_exception_handler(exception.CumuloError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_middleware(CatchAllMiddleware, style=style)


class CatchAllMiddleware:
    """Turn an exception no handler knew into a logged 500, unless the response began."""

    def __init__(self, app: ASGIApp, style: Style) -> None:
        self.app = app
        self.style = style

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            LOG.exception("Unexpected error answering %s %s", scope["method"], scope["path"])
            if started:
                raise
            response = internal_error_response(self.style)
            await response(scope, receive, send)
