"""The small interface a transport gives the bus: move bytes, ack after the handler.

A transport knows three kinds of destination:

- a *work queue* per topic (``send``): durable, shared by every server of the
  topic, each message taken by one of them;
- a *fanout* per topic (``broadcast``): every server subscribed at that moment
  gets its own copy;
- a *reply address* per bus (``listen_replies``/``reply``): where the answers
  to this bus's calls come back.

``deliver`` is awaited for each message; the transport acknowledges the
message only once it returns (or raises). If the task running it is cancelled
(the server stops, the process dies) the message goes back to its queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

PREFETCH = 10
"""Messages a server holds unacknowledged (and handles concurrently) at most."""

Deliver = Callable[[bytes], Awaitable[None]]
OnReply = Callable[[bytes], None]


class Subscription(Protocol):
    async def stop(self, grace: float) -> None:
        """Take no more messages; give in-flight ones ``grace`` seconds, then requeue them."""


class Transport(Protocol):
    durable: bool
    """Whether queued messages outlive this process (a broker's do; memory's do not)."""

    async def send(self, topic: str, body: bytes, *, ttl: float | None = None) -> None:
        """Queue ``body`` on the topic's work queue; drop it after ``ttl`` seconds unread."""

    async def broadcast(self, topic: str, body: bytes) -> None: ...

    async def reply(self, address: str, body: bytes) -> None: ...

    async def listen_replies(self, on_reply: OnReply) -> str:
        """Start receiving replies (once per transport); return the reply address."""

    async def subscribe(self, topic: str, deliver: Deliver, *, fanout: bool) -> Subscription: ...

    async def close(self) -> None: ...


async def drain(tasks: Iterable[asyncio.Task[Any]], grace: float) -> None:
    """Let the handler tasks finish within ``grace`` seconds, then cancel the rest."""
    me = asyncio.current_task()
    pending = {task for task in tasks if not task.done() and task is not me}
    if pending and grace > 0:
        _, pending = await asyncio.wait(pending, timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
