"""The root application: every API under its DevStack prefix on one port.

| prefix        | API                      |
|---------------|--------------------------|
| /identity     | Keystone v3              |
| /compute      | Nova v2.1                |
| /image        | Glance v2                |
| /networking   | Neutron v2.0             |
| /volume       | Cinder v3                |

Dispatch is by path prefix; the mounted app sees ``root_path`` set to its
prefix, as Starlette's ``Mount`` would do, but ``/compute`` itself is served
(not redirected to ``/compute/``) because clients fetch it for version discovery.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from cumulo.api.request_id import RequestIdMiddleware
from cumulo.runtime import Runtime

API_PREFIXES = ("identity", "compute", "image", "networking", "volume")


class PrefixDispatcher:
    def __init__(self, apps: dict[str, ASGIApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _accept_lifespan(receive, send)
            return
        path: str = scope["path"]
        head = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        app = self.apps.get(head)
        if app is None:
            await _not_found(scope, send, list(self.apps))
            return
        prefix = "/" + head
        scope = dict(scope)
        scope["root_path"] = scope.get("root_path", "") + prefix
        if path == prefix:
            scope["path"] = path + "/"
            scope["raw_path"] = scope["path"].encode()
        await app(scope, receive, send)


async def _accept_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _not_found(scope: Scope, send: Send, prefixes: Iterable[str]) -> None:
    if scope["path"] in ("/", ""):
        body = orjson.dumps({"apis": [f"/{p}" for p in prefixes]})
        status = 200
    else:
        body = orjson.dumps({"itemNotFound": {"code": 404, "message": "Not found."}})
        status = 404
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


# Each prefix's app builder, imported only when that API is served.
_BUILDERS = {
    "identity": "cumulo.identity.api",
    "compute": "cumulo.compute.routes",
    "image": "cumulo.image.api",
    "networking": "cumulo.network.api",
    "volume": "cumulo.volume.api",
}


def build_app(runtime: Runtime, prefixes: Iterable[str] = API_PREFIXES) -> ASGIApp:
    """The ASGI app serving the APIs in ``prefixes`` (all of them by default)."""
    apps = {
        prefix: importlib.import_module(_BUILDERS[prefix]).build_app(runtime) for prefix in prefixes
    }
    return RequestIdMiddleware(PrefixDispatcher(apps))
