"""The message bus: ``call``, ``cast`` and ``fanout`` typed messages between services.

    bus = make_bus(settings.bus)
    await bus.serve("conductor", {BuildInstances: manager.build_instances})
    await bus.cast("conductor", BuildInstances(...), ctx)
    host = await bus.call("scheduler", SelectDestinations(...), ctx, returns=Selection)

Delivery is at least once: a message is acknowledged after its handler
finishes, and redelivered if the worker dies first, so handlers must be
idempotent. ``cumulo.rpc.bus`` has the semantics, ``cumulo.rpc.messages`` how
to write messages, ``memory`` and ``rabbit`` the two transports.
"""

from cumulo.rpc.bus import Bus, make_bus
from cumulo.rpc.errors import (
    BusUnavailable,
    CallTimeout,
    IncompatibleMessage,
    RemoteError,
    UnknownMessage,
)
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler, Server

__all__ = [
    "Bus",
    "BusUnavailable",
    "CallTimeout",
    "Handler",
    "IncompatibleMessage",
    "Message",
    "RemoteError",
    "Server",
    "UnknownMessage",
    "make_bus",
]
