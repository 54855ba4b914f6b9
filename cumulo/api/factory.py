"""Building one service's FastAPI app with the shared conventions already in place."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from starlette.responses import Response

from cumulo.api.errors import Style, install_error_handlers
from cumulo.api.microversion import MicroversionMiddleware, VersionedAPI
from cumulo.runtime import Runtime


class JSON(Response):
    """A JSON response rendered with orjson (fast, and exact about datetimes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def service_app(
    runtime: Runtime,
    *,
    title: str,
    style: Style,
    versions: VersionedAPI | None = None,
    description: str = "",
) -> FastAPI:
    """A FastAPI app for one API: its error dialect, microversions, OpenAPI document.

    The OpenAPI document is served at ``<prefix>/openapi.json``.
    """
    app = FastAPI(
        title=title,
        description=description,
        version="cumulo",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        default_response_class=JSON,
    )
    app.state.runtime = runtime
    app.state.token_validator = runtime.token_validator
    install_error_handlers(app, style)
    if versions is not None:
        app.add_middleware(MicroversionMiddleware, api=versions, style=style)
    return app


def self_url(base_url: str, *parts: str) -> str:
    """``base_url`` joined with ``parts`` by single slashes (base may end with one)."""
    url = base_url.rstrip("/")
    for part in parts:
        url += "/" + part.strip("/")
    return url
