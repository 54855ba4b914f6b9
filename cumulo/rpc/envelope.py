"""What travels on the wire: a message in its envelope, and the reply to a call.

Both are JSON. Envelopes ignore fields they do not know, like messages, so the
envelope itself can grow during a rolling upgrade.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cumulo.context import RequestContext
from cumulo.exception import CumuloError, error_class, qualified_name
from cumulo.rpc.errors import IncompatibleMessage, RemoteError, UnknownMessage
from cumulo.rpc.messages import Message, major, message_class

M = TypeVar("M", bound=Message)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def encode(self) -> bytes:
        return self.model_dump_json().encode()


def _open(cls: type[M], type_name: str, version: str, payload: dict[str, Any]) -> M:
    """Read ``payload`` as ``cls``: any minor version of the same major is fine."""
    if major(version) != major(cls.VERSION):
        reason = f"this side reads major version {major(cls.VERSION)} ({cls.VERSION})"
        raise IncompatibleMessage(type=type_name, version=version, reason=reason)
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        raise IncompatibleMessage(type=type_name, version=version, reason=str(exc)) from None


class Envelope(_Wire):
    """A message, who sent it, and where a call wants its reply."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    message_type: str
    version: str
    payload: dict[str, Any]
    context: RequestContext
    reply_to: str | None = None

    @classmethod
    def wrap(cls, msg: Message, ctx: RequestContext, reply_to: str | None = None) -> Envelope:
        return cls(
            message_type=msg.TYPE,
            version=msg.VERSION,
            payload=msg.model_dump(mode="json"),
            context=ctx,
            reply_to=reply_to,
        )

    @classmethod
    def decode(cls, body: bytes) -> Envelope:
        return cls.model_validate_json(body)

    def open(self, cls: type[M]) -> M:
        return _open(cls, self.message_type, self.version, self.payload)


class Failure(_Wire):
    """An exception raised by a handler, as the caller will raise it again."""

    exc_type: str
    message: str
    code: int = 500
    params: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_exception(cls, exc: BaseException) -> Failure:
        if isinstance(exc, CumuloError):
            return cls(
                exc_type=qualified_name(type(exc)),
                message=exc.format_message(),
                code=exc.code,
                params=_jsonable(exc.kwargs),
            )
        return cls(exc_type=type(exc).__name__, message=str(exc))

    def to_exception(self) -> CumuloError:
        known = error_class(self.exc_type)
        if known is RemoteError:
            inner = self.params.get("exc_type"), self.params.get("value")
            if isinstance(inner[0], str) and isinstance(inner[1], str):
                return RemoteError(inner[0], inner[1], self.code)
        if known is None or known is RemoteError:
            return RemoteError(self.exc_type, self.message, self.code)
        exc = known.__new__(known)
        CumuloError.__init__(exc, self.message, **self.params)
        return exc


def _jsonable(kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(json.dumps(kwargs, default=str))
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


class Reply(_Wire):
    """The answer to a call: a message, nothing, or a failure."""

    correlation_id: str
    message_type: str | None = None
    version: str | None = None
    payload: dict[str, Any] | None = None
    error: Failure | None = None

    @classmethod
    def result(cls, correlation_id: str, msg: Message | None) -> Reply:
        if msg is None:
            return cls(correlation_id=correlation_id)
        return cls(
            correlation_id=correlation_id,
            message_type=msg.TYPE,
            version=msg.VERSION,
            payload=msg.model_dump(mode="json"),
        )

    @classmethod
    def failure(cls, correlation_id: str, exc: BaseException) -> Reply:
        return cls(correlation_id=correlation_id, error=Failure.from_exception(exc))

    @classmethod
    def decode(cls, body: bytes) -> Reply:
        return cls.model_validate_json(body)

    def unwrap(self, topic: str) -> Message | None:
        """The reply message, or raise the handler's error here."""
        if self.error is not None:
            raise self.error.to_exception()
        if self.message_type is None:
            return None
        cls = message_class(self.message_type)
        if cls is None:
            raise UnknownMessage(type=self.message_type, topic=topic)
        return _open(cls, self.message_type, self.version or "", self.payload or {})
