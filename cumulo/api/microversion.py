"""Microversion negotiation for the APIs that have them (compute, volume).

Each API declares its versions in its own ``microversions.py`` (one line per
version, Placement's way) and wraps its app in ``MicroversionMiddleware``: the
middleware reads ``OpenStack-API-Version: <service> X.Y`` (or the legacy
header), answers 406 for a version outside the range, stores the version in
``request.state.api_version`` and echoes it on every response, errors included.
Handlers pick request and response models by version; they do not compare
versions themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cumulo import exception
from cumulo.api.errors import Style, fault_body

_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


class APIVersion(NamedTuple):
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _VERSION.match(text.strip())
        if not match:
            raise exception.Invalid(
                f"API Version String {text} is of invalid format. Must be of format "
                "MajorNum.MinorNum."
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class VersionedAPI:
    """The microversion range of one API, and the header names it uses."""

    service_type: str  # "compute", "volume"
    minimum: APIVersion
    maximum: APIVersion
    legacy_header: str | None = None  # "X-OpenStack-Nova-API-Version"

    def requested(self, headers: dict[str, str]) -> APIVersion:
        text = None
        modern = headers.get("openstack-api-version")
        if modern:
            for item in modern.split(","):
                parts = item.strip().split()
                if len(parts) == 2 and parts[0].lower() == self.service_type:
                    text = parts[1]
        if text is None and self.legacy_header:
            text = headers.get(self.legacy_header.lower())
        if text is None:
            return self.minimum
        if text.strip().lower() == "latest":
            return self.maximum
        version = APIVersion.parse(text)
        if not self.minimum <= version <= self.maximum:
            raise exception.NotAcceptable(
                f"Version {version} is not supported by the API. Minimum is "
                f"{self.minimum} and maximum is {self.maximum}."
            )
        return version


def api_version(request: Request) -> APIVersion:
    """The negotiated microversion of this request."""
    version: APIVersion = request.state.api_version
    return version


class MicroversionMiddleware:
    def __init__(self, app: ASGIApp, api: VersionedAPI, style: Style) -> None:
        self.app = app
        self.api = api
        self.style = style

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            version = self.api.requested(headers)
        except exception.CumuloError as exc:
            version = None
            error: exception.CumuloError | None = exc
        else:
            error = None
        echo = self._echo_headers(version or self.api.minimum)
        if error is not None:
            response = Response(
                orjson.dumps(fault_body(self.style, error.code, error.format_message())),
                status_code=error.code,
                media_type="application/json",
                headers={k.decode(): v.decode() for k, v in echo},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["api_version"] = version

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + echo
            await send(message)

        await self.app(scope, receive, send_with_version)

    def _echo_headers(self, version: APIVersion) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"openstack-api-version", f"{self.api.service_type} {version}".encode()),
            (b"vary", b"OpenStack-API-Version"),
        ]
        if self.api.legacy_header:
            headers.append((self.api.legacy_header.lower().encode(), str(version).encode()))
            headers[1] = (b"vary", f"OpenStack-API-Version, {self.api.legacy_header}".encode())
        return headers
