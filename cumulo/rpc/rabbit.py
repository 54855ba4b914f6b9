"""The RabbitMQ transport: distributed mode.

Topology, every name prefixed with the configured exchange ``X``:

- ``X`` (direct, durable) routes a topic to its work queue ``X.<topic>``
  (durable), declared by senders and servers alike, so a cast waits there
  until some server takes it. Casts are persistent; a call's message expires
  (per-message TTL) with the call's timeout.
- ``X.<topic>.fanout`` (fanout, durable) copies each fanout to one exclusive,
  auto-deleted queue per serving server.
- ``X.reply.<id>`` (exclusive, auto-deleted) receives this bus's call replies
  through the default exchange.

Each server has its own channel with a prefetch of ``PREFETCH`` and acks a
message only after its handler finishes; when a worker dies, the broker
requeues what it held. One robust connection per transport reconnects and
re-declares after a broker restart. Broker errors surface as ``BusUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Iterator
from typing import Any

import aio_pika
import pamqp.exceptions
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from yarl import URL

from cumulo.rpc.errors import BusUnavailable
from cumulo.rpc.transport import PREFETCH, Deliver, OnReply, drain

LOG = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0

_BROKER_ERRORS = (
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    pamqp.exceptions.PAMQPException,
    ConnectionError,
    OSError,
    TimeoutError,
)


@contextlib.contextmanager
def _translated(url: str) -> Iterator[None]:
    """Turn the broker client's errors into ``BusUnavailable``, naming the broker."""
    try:
        yield
    except _BROKER_ERRORS as exc:
        where = URL(url).with_password(None).with_user(None)
        reason = f"{where}: {exc.__class__.__name__}: {exc}"
        raise BusUnavailable(reason=reason) from exc


async def _quietly(action: Awaitable[Any]) -> None:
    """Ack/nack/cancel/close on a channel that may already be gone (the broker requeues)."""
    try:
        await action
    except Exception as exc:
        LOG.debug("Ignoring %s from the broker during cleanup", exc)


class _Subscription:
    """One server's consumer on its own channel."""

    def __init__(self, channel: AbstractChannel, queue: AbstractQueue, deliver: Deliver) -> None:
        self._channel = channel
        self._queue = queue
        self._deliver = deliver
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tag: str | None = None

    async def start(self) -> None:
        self._tag = await self._queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        tracked = {task} if task is not None else set()
        self._tasks |= tracked
        try:
            await self._deliver(message.body)
        except asyncio.CancelledError:
            await _quietly(message.nack(requeue=True))
            raise
        except Exception:
            LOG.exception("Delivering a message failed; dropping it")
        finally:
            self._tasks -= tracked
        await _quietly(message.ack())

    async def stop(self, grace: float) -> None:
        tag, self._tag = self._tag, None
        if tag is None:
            return
        await _quietly(self._queue.cancel(tag))
        await drain(list(self._tasks), grace)
        await _quietly(self._channel.close())


class RabbitTransport:
    """Queues on a RabbitMQ broker; see the module docstring."""

    durable = True

    def __init__(self, url: str, exchange: str, prefetch: int = PREFETCH) -> None:
        self.url = url
        self.exchange = exchange
        self.prefetch = prefetch
        self.declared_queues: set[str] = set()
        """Durable queues this transport declared (tests and tooling delete them)."""
        self.declared_exchanges: set[str] = set()
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractChannel | None = None
        self._lock = asyncio.Lock()
        self._subscriptions: list[_Subscription] = []
        self._reply_address: str | None = None
        self._closed = False

    async def _connect(self) -> tuple[AbstractRobustConnection, AbstractChannel]:
        async with self._lock:
            if self._closed:
                raise BusUnavailable(reason="the transport was closed")
            if self._connection is None or self._publisher is None:
                with _translated(self.url):
                    connection = await aio_pika.connect_robust(self.url, timeout=CONNECT_TIMEOUT)
                    self._publisher = await connection.channel()
                self._connection = connection
            return self._connection, self._publisher

    async def _work_queue(self, channel: AbstractChannel, topic: str) -> AbstractQueue:
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        queue = await channel.declare_queue(f"{self.exchange}.{topic}", durable=True)
        await queue.bind(exchange, routing_key=topic)
        self.declared_exchanges.add(exchange.name)
        self.declared_queues.add(queue.name)
        return queue

    async def _fanout_queue(self, channel: AbstractChannel, topic: str) -> AbstractQueue:
        exchange = await self._fanout_exchange(channel, topic)
        name = f"{exchange.name}.{uuid.uuid4().hex[:12]}"
        queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        return queue

    async def _fanout_exchange(self, channel: AbstractChannel, topic: str) -> AbstractExchange:
        name = f"{self.exchange}.{topic}.fanout"
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.FANOUT, durable=True)
        self.declared_exchanges.add(name)
        return exchange

    async def send(self, topic: str, body: bytes, *, ttl: float | None = None) -> None:
        _, channel = await self._connect()
        mode = aio_pika.DeliveryMode.PERSISTENT if ttl is None else None
        message = aio_pika.Message(body, delivery_mode=mode, expiration=ttl)
        with _translated(self.url):
            if f"{self.exchange}.{topic}" not in self.declared_queues:
                await self._work_queue(channel, topic)
            exchange = await channel.get_exchange(self.exchange, ensure=False)
            await exchange.publish(message, routing_key=topic)

    async def broadcast(self, topic: str, body: bytes) -> None:
        _, channel = await self._connect()
        with _translated(self.url):
            exchange = await self._fanout_exchange(channel, topic)
            await exchange.publish(aio_pika.Message(body), routing_key="", mandatory=False)

    async def reply(self, address: str, body: bytes) -> None:
        _, channel = await self._connect()
        with _translated(self.url):
            await channel.default_exchange.publish(
                aio_pika.Message(body), routing_key=address, mandatory=False
            )

    async def listen_replies(self, on_reply: OnReply) -> str:
        if self._reply_address is not None:
            return self._reply_address
        _, channel = await self._connect()

        async def received(message: AbstractIncomingMessage) -> None:
            on_reply(message.body)

        with _translated(self.url):
            name = f"{self.exchange}.reply.{uuid.uuid4().hex}"
            queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
            await queue.consume(received, no_ack=True)
        self._reply_address = name
        return name

    async def subscribe(self, topic: str, deliver: Deliver, *, fanout: bool) -> _Subscription:
        connection, _ = await self._connect()
        with _translated(self.url):
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.prefetch)
            if fanout:
                queue = await self._fanout_queue(channel, topic)
            else:
                queue = await self._work_queue(channel, topic)
            subscription = _Subscription(channel, queue, deliver)
            await subscription.start()
        self._subscriptions.append(subscription)
        return subscription

    async def close(self) -> None:
        async with self._lock:
            if self._closed:
                return
            self._closed = True
        await asyncio.gather(*(sub.stop(0) for sub in self._subscriptions))
        if self._connection is not None:
            await _quietly(self._connection.close())
