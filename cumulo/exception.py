"""The domain errors every service raises, with the HTTP status each one means.

    CumuloError                      500  an unexpected failure
     ├── Invalid                     400  bad input (``InvalidInput`` names the field)
     ├── NotAuthenticated            401
     ├── Forbidden                   403  policy said no
     │    └── OverQuota              403  a quota would be exceeded
     ├── NotFound                    404
     ├── MethodNotAllowed            405
     ├── NotAcceptable               406  unsupported microversion
     ├── Conflict                    409
     ├── PayloadTooLarge             413
     └── UnsupportedMediaType        415

Services subclass these (``FlavorNotFound(NotFound)``) and give a ``message``
template; ``cumulo.api.errors`` turns any of them into the response body the
calling API uses (Nova's ``{"itemNotFound": …}``, Keystone's ``{"error": …}``).
Errors from libraries are translated where they happen (the db layer turns an
``IntegrityError`` into ``Conflict``), never in HTTP handlers.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CumuloError(Exception):
    """Base of every error a user may see. ``message`` is formatted with kwargs."""

    code: ClassVar[int] = 500
    message: ClassVar[str] = "An unknown exception occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.message % kwargs if kwargs else self.message
            except (KeyError, TypeError):
                message = self.message
        self.msg = message
        super().__init__(message)

    def format_message(self) -> str:
        return self.msg


class Invalid(CumuloError):
    code = 400
    message = "Bad request."


class InvalidInput(Invalid):
    message = "Invalid input received: %(reason)s"


class MalformedRequestBody(Invalid):
    message = "Malformed request body: %(reason)s"


class NotAuthenticated(CumuloError):
    code = 401
    message = "The request you have made requires authentication."


class Forbidden(CumuloError):
    code = 403
    message = "You are not authorized to perform the requested action."


class PolicyNotAuthorized(Forbidden):
    message = "Policy doesn't allow %(action)s to be performed."


class OverQuota(Forbidden):
    message = "Quota exceeded for resources: %(overs)s"


class NotFound(CumuloError):
    code = 404
    message = "Resource could not be found."


class MethodNotAllowed(CumuloError):
    code = 405
    message = "The method is not allowed for the requested URL."


class NotAcceptable(CumuloError):
    code = 406
    message = "Not acceptable."


class Conflict(CumuloError):
    code = 409
    message = "There was a conflict when trying to complete your request."


class PayloadTooLarge(CumuloError):
    code = 413
    message = "Request is too large."


class UnsupportedMediaType(CumuloError):
    code = 415
    message = "Unsupported Content-Type"


def qualified_name(cls: type[BaseException]) -> str:
    """``module.Class``: unique across services, which may reuse OpenStack's short names."""
    return f"{cls.__module__}.{cls.__qualname__}"


def error_class(name: str) -> type[CumuloError] | None:
    """The error class called ``name``, for re-raising a remote error locally.

    ``name`` is a qualified name (see ``qualified_name``); a bare class name is
    accepted when exactly one error class has it, or one in this module does.
    """
    matches = []
    stack: list[type[CumuloError]] = [CumuloError]
    while stack:
        cls = stack.pop()
        if qualified_name(cls) == name:
            return cls
        if cls.__name__ == name:
            matches.append(cls)
        stack.extend(cls.__subclasses__())
    base = [cls for cls in matches if cls.__module__ == __name__]
    if base:
        return base[0]
    return matches[0] if len(matches) == 1 else None
