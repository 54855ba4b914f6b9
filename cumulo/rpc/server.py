"""The receiving side: one topic's messages, dispatched to typed handlers.

A handler runs with the request id of the message set in the request-id
contextvar, so every log line it causes carries it. What it returns is the
reply to a call; what it raises goes back to the caller (a call) or to the log
(a cast or fanout). Either way the message is then acknowledged: a message
whose handler failed is not redelivered, only one whose handler never finished.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import ValidationError

from cumulo.context import (
    RequestContext,
    reset_arrival,
    reset_request_id,
    set_arrival,
    set_request_id,
)
from cumulo.exception import CumuloError
from cumulo.rpc.envelope import Envelope, Reply
from cumulo.rpc.errors import UnknownMessage
from cumulo.rpc.messages import Message
from cumulo.rpc.transport import Subscription, Transport

LOG = logging.getLogger(__name__)

Handler = Callable[[RequestContext, Any], Awaitable[Message | None]]
"""``async def handler(ctx, msg) -> Message | None``; ``msg`` is an instance of its key."""

STOP_GRACE = 5.0
"""Seconds a stopping server lets in-flight handlers finish before requeueing their messages."""


class Server:
    """Handlers for one topic's work queue, or for its fanout."""

    def __init__(
        self,
        topic: str,
        handlers: Mapping[type[Message], Handler],
        transport: Transport,
        *,
        fanout: bool = False,
    ) -> None:
        for cls in handlers:
            if not (isinstance(cls, type) and issubclass(cls, Message)):
                raise TypeError(f"handlers must be keyed by Message classes, not {cls!r}")
        self.topic = topic
        self.fanout = fanout
        self._handlers = {cls.TYPE: (cls, handler) for cls, handler in handlers.items()}
        self._transport = transport
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._transport.subscribe(
            self.topic, self._deliver, fanout=self.fanout
        )

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop taking messages; unfinished ones go back to the queue after ``grace`` seconds."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.stop(grace)

    async def _deliver(self, body: bytes) -> None:
        try:
            envelope = Envelope.decode(body)
        except ValidationError as exc:
            LOG.error("Dropping an unreadable message on %s: %s", self.topic, exc)
            return
        token = set_request_id(envelope.context.request_id)
        arrived = set_arrival(envelope.context.timestamp)
        try:
            reply = await self._handle(envelope)
            if envelope.reply_to is not None:
                await self._transport.reply(envelope.reply_to, reply.encode())
        finally:
            reset_arrival(arrived)
            reset_request_id(token)

    async def _handle(self, envelope: Envelope) -> Reply:
        try:
            entry = self._handlers.get(envelope.message_type)
            if entry is None:
                raise UnknownMessage(type=envelope.message_type, topic=self.topic)
            cls, handler = entry
            result = await handler(envelope.context, envelope.open(cls))
            if result is not None and not isinstance(result, Message):
                got = type(result).__name__
                raise TypeError(f"handler for {envelope.message_type} returned a {got}")
            return Reply.result(envelope.id, result)
        except Exception as exc:
            self._log_failure(envelope, exc)
            return Reply.failure(envelope.id, exc)

    def _log_failure(self, envelope: Envelope, exc: Exception) -> None:
        """A call's caller sees its domain errors; a cast's are only in this log."""
        is_call = envelope.reply_to is not None
        what = f"{'call' if is_call else 'message'} {envelope.message_type} on {self.topic} failed"
        if not isinstance(exc, CumuloError):
            LOG.exception(what)
        elif exc.code >= 500:
            LOG.error("%s: %s", what, exc)
        else:
            LOG.log(logging.INFO if is_call else logging.WARNING, "%s: %s", what, exc)
