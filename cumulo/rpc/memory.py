"""The in-memory transport: embedded mode, every service in one asyncio loop.

It keeps RabbitMQ's semantics so that code tested embedded behaves the same
distributed: a work queue per topic outlives its servers and is shared by them
(each message to one server), every fanout subscriber has its own queue, a
server holds at most ``PREFETCH`` messages, and a message goes back to its
queue when the task handling it is cancelled before it finishes. Messages are
bytes here too, so nothing is shared between sender and handler.

Every ``MemoryTransport`` with the same name on the same event loop reaches the
same queues, as every process configured with the same exchange reaches the
same RabbitMQ queues.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from cumulo.rpc.errors import BusUnavailable
from cumulo.rpc.transport import PREFETCH, Deliver, OnReply, drain

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Item:
    body: bytes
    deadline: float | None = None

    def expired(self) -> bool:
        return self.deadline is not None and asyncio.get_running_loop().time() > self.deadline


class _Broker:
    """The queues of one bus name on one event loop."""

    def __init__(self) -> None:
        self.work: dict[str, asyncio.Queue[_Item]] = {}
        self.fanout: defaultdict[str, set[asyncio.Queue[_Item]]] = defaultdict(set)
        self.replies: dict[str, OnReply] = {}

    def work_queue(self, topic: str) -> asyncio.Queue[_Item]:
        return self.work.setdefault(topic, asyncio.Queue())


_BROKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Broker]] = (
    weakref.WeakKeyDictionary()
)


def _broker(name: str) -> _Broker:
    per_loop = _BROKERS.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(name, _Broker())


class _Consumer:
    """One server's subscription: takes messages while it has a free slot."""

    def __init__(
        self,
        queue: asyncio.Queue[_Item],
        deliver: Deliver,
        prefetch: int,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._queue = queue
        self._deliver = deliver
        self._slots = asyncio.Semaphore(prefetch)
        self._on_stop = on_stop
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                item = await self._queue.get()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            if item.expired():
                self._slots.release()
                continue
            task = asyncio.create_task(self._handle(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, item: _Item) -> None:
        try:
            await self._deliver(item.body)
        except asyncio.CancelledError:
            self._queue.put_nowait(item)
            raise
        except Exception:
            LOG.exception("Delivering a message failed; dropping it")
        finally:
            self._slots.release()

    async def stop(self, grace: float) -> None:
        if self._loop_task.done():
            return
        self._loop_task.cancel()
        await asyncio.gather(self._loop_task, return_exceptions=True)
        await drain(list(self._tasks), grace)
        if self._on_stop is not None:
            self._on_stop()


class MemoryTransport:
    """Queues in this process; see the module docstring."""

    durable = False

    def __init__(self, name: str = "cumulo", prefetch: int = PREFETCH) -> None:
        self.name = name
        self.prefetch = prefetch
        self._consumers: list[_Consumer] = []
        self._reply_address: str | None = None
        self._closed = False

    def _broker(self) -> _Broker:
        if self._closed:
            raise BusUnavailable(reason="the transport was closed")
        return _broker(self.name)

    async def send(self, topic: str, body: bytes, *, ttl: float | None = None) -> None:
        deadline = None if ttl is None else asyncio.get_running_loop().time() + ttl
        self._broker().work_queue(topic).put_nowait(_Item(body, deadline))

    async def broadcast(self, topic: str, body: bytes) -> None:
        for queue in self._broker().fanout.get(topic, ()):
            queue.put_nowait(_Item(body))

    async def reply(self, address: str, body: bytes) -> None:
        on_reply = self._broker().replies.get(address)
        if on_reply is not None:
            asyncio.get_running_loop().call_soon(on_reply, body)

    async def listen_replies(self, on_reply: OnReply) -> str:
        if self._reply_address is None:
            self._reply_address = f"reply.{uuid.uuid4().hex}"
            self._broker().replies[self._reply_address] = on_reply
        return self._reply_address

    async def subscribe(self, topic: str, deliver: Deliver, *, fanout: bool) -> _Consumer:
        broker = self._broker()
        if fanout:
            queue: asyncio.Queue[_Item] = asyncio.Queue()
            broker.fanout[topic].add(queue)
            consumer = _Consumer(
                queue, deliver, self.prefetch, lambda: broker.fanout[topic].discard(queue)
            )
        else:
            consumer = _Consumer(broker.work_queue(topic), deliver, self.prefetch)
        self._consumers.append(consumer)
        return consumer

    async def close(self) -> None:
        if self._closed:
            return
        broker = self._broker()
        self._closed = True
        await asyncio.gather(*(consumer.stop(0) for consumer in self._consumers))
        if self._reply_address is not None:
            broker.replies.pop(self._reply_address, None)
