"""The errors the bus itself raises, all ``CumuloError`` so the API maps them once.

    CumuloError
     ├── CallTimeout          no reply in time (also: no server listens on the topic)
     ├── RemoteError          a handler failed with an error this process does not know
     ├── BusUnavailable       the broker cannot be reached, or the bus is closed
     ├── UnknownMessage       no handler (or no class) for a message type
     └── IncompatibleMessage  a message's major version or payload cannot be read here

A domain error a handler raises (``FlavorNotFound``) crosses the bus by name
and is raised again in the caller as the same class, with its message and code.
"""

from __future__ import annotations

from cumulo.exception import CumuloError


class CallTimeout(CumuloError):
    message = "No reply from %(topic)s within %(timeout)s seconds."


class RemoteError(CumuloError):
    """A handler raised an exception that the caller has no class for."""

    message = "Remote error: %(exc_type)s %(value)s"

    def __init__(self, exc_type: str, value: str, code: int = 500) -> None:
        super().__init__(exc_type=exc_type, value=value)
        self.exc_type = exc_type
        self.value = value
        self.code = code  # type: ignore[misc]


class BusUnavailable(CumuloError):
    message = "The message bus is unavailable: %(reason)s"


class UnknownMessage(CumuloError):
    message = "No handler for message %(type)s on %(topic)s."


class IncompatibleMessage(CumuloError):
    message = "Cannot read message %(type)s version %(version)s: %(reason)s"
