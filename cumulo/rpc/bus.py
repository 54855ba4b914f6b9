"""The bus every service uses: ``call``, ``cast`` and ``fanout`` typed messages; ``serve`` them.

A topic names a destination. ``"conductor"`` is a service topic: every
conductor serves it and each message goes to one of them (competing
consumers). ``"compute.host1"`` is just another topic, served by one host.
``fanout`` reaches every server that serves the topic with ``fanout=True`` at
that moment.

Delivery is at least once. A message is acknowledged after its handler
finishes, so when a worker dies (or its server stops) mid-handler the message
is delivered again, possibly to another worker: **handlers must be
idempotent** (the database, with its conditional updates, is the truth; the
bus only carries work). A cast waits in its durable queue until a server
takes it; a call's message expires with its timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TypeVar, overload

from pydantic import ValidationError

from cumulo.config import BusSettings
from cumulo.context import RequestContext
from cumulo.rpc.envelope import Envelope, Reply
from cumulo.rpc.errors import BusUnavailable, CallTimeout, IncompatibleMessage
from cumulo.rpc.messages import Message
from cumulo.rpc.server import STOP_GRACE, Handler, Server
from cumulo.rpc.transport import Transport

LOG = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)


class Bus:
    """One process's handle on the message bus, over any ``Transport``."""

    def __init__(self, transport: Transport, call_timeout: float = 60.0) -> None:
        self.transport = transport
        self.call_timeout = call_timeout
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._servers: set[Server] = set()
        self._reply_to: str | None = None
        self._reply_lock = asyncio.Lock()
        self._closed = False

    @overload
    async def call(
        self,
        topic: str,
        msg: Message,
        ctx: RequestContext,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Message | None: ...

    @overload
    async def call(
        self,
        topic: str,
        msg: Message,
        ctx: RequestContext,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        returns: type[M],
    ) -> M: ...

    async def call(
        self,
        topic: str,
        msg: Message,
        ctx: RequestContext,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        returns: type[M] | None = None,
    ) -> Message | None:
        """Send ``msg`` to one server of ``topic`` and wait for its reply.

        Raises the handler's error, or ``CallTimeout`` when no reply comes in
        ``timeout`` seconds (``call_timeout`` by default). With ``returns``,
        the reply must be an instance of that class.
        """
        self._check_open()
        timeout = self.call_timeout if timeout is None else timeout
        envelope = Envelope.wrap(msg, ctx, reply_to=await self._reply_address())
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[envelope.id] = future
        try:
            async with asyncio.timeout(timeout):
                await self.transport.send(topic, envelope.encode(), ttl=timeout)
                reply = await future
        except TimeoutError:
            raise CallTimeout(topic=topic, timeout=timeout) from None
        finally:
            self._pending.pop(envelope.id, None)
        result = reply.unwrap(topic)
        if returns is None:
            return result
        if isinstance(result, returns):
            return result
        got = "nothing" if result is None else result.TYPE
        reason = f"expected a {returns.TYPE} reply, got {got}"
        raise IncompatibleMessage(type=msg.TYPE, version=msg.VERSION, reason=reason)

    async def cast(self, topic: str, msg: Message, ctx: RequestContext) -> None:
        """Queue ``msg`` for one server of ``topic``; do not wait for it to be handled."""
        self._check_open()
        await self.transport.send(topic, Envelope.wrap(msg, ctx).encode())

    async def fanout(self, topic: str, msg: Message, ctx: RequestContext) -> None:
        """Send ``msg`` to every server serving ``topic`` with ``fanout=True`` now."""
        self._check_open()
        await self.transport.broadcast(topic, Envelope.wrap(msg, ctx).encode())

    async def serve(
        self, topic: str, handlers: Mapping[type[Message], Handler], *, fanout: bool = False
    ) -> Server:
        """Start handling ``topic``'s work queue (or, with ``fanout``, its fanouts)."""
        self._check_open()
        server = Server(topic, handlers, self.transport, fanout=fanout)
        await server.start()
        self._servers.add(server)
        return server

    async def close(self, grace: float = STOP_GRACE) -> None:
        """Stop every server this bus started, fail waiting calls, disconnect."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(server.stop(grace) for server in self._servers))
        self._servers.clear()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BusUnavailable(reason="the bus was closed"))
        await self.transport.close()

    def _check_open(self) -> None:
        if self._closed:
            raise BusUnavailable(reason="the bus was closed")

    async def _reply_address(self) -> str:
        async with self._reply_lock:
            if self._reply_to is None:
                self._reply_to = await self.transport.listen_replies(self._on_reply)
            return self._reply_to

    def _on_reply(self, body: bytes) -> None:
        try:
            reply = Reply.decode(body)
        except ValidationError as exc:
            LOG.error("Dropping an unreadable reply: %s", exc)
            return
        future = self._pending.get(reply.correlation_id)
        if future is None or future.done():
            LOG.debug("Reply %s came after its call gave up", reply.correlation_id)
            return
        future.set_result(reply)


def make_bus(settings: BusSettings) -> Bus:
    """The bus ``settings`` describe; it connects on first use."""
    if settings.transport == "rabbit":
        from cumulo.rpc.rabbit import RabbitTransport

        return Bus(RabbitTransport(settings.url, settings.exchange), settings.call_timeout)
    from cumulo.rpc.memory import MemoryTransport

    return Bus(MemoryTransport(settings.exchange), settings.call_timeout)
