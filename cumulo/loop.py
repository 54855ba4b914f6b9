"""The embedded mode's event loop: asyncio's own, serving older requests first.

In embedded mode every service shares one loop. asyncio runs ready callbacks first
in, first out, so 50 servers posted at once advance together, a step each per
turn, and each one's boot ends about when the last one's does: every boot waits
for the work of all 50.

This loop runs ready callbacks in the order their requests reached the cloud
(``RequestContext.timestamp``, which every bus message carries and every handler
sets again: ``cumulo.context.current_arrival``). An older request's work goes
before a newer one's, so a boot waits only for the boots posted before it. Work
that no request asked for (arrival 0.0: reading sockets, timers, periodic jobs)
goes first; callbacks of the same arrival keep their first-in, first-out order.

An old request that computes for long holds newer ones back meanwhile; nothing
here computes for long in one callback, and waiting on I/O takes a request off
the ready queue.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
from typing import Any

from cumulo.context import arrival_in


class OldestFirst:
    """What asyncio keeps its ready callbacks in (``BaseEventLoop._ready``, a deque of
    handles), ordered by their requests' arrival: the deque's ``append``, ``popleft``,
    ``len`` and ``clear``, which are all the loop uses."""

    __slots__ = ("_heap", "_order")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.Handle]] = []
        self._order = itertools.count()

    def append(self, handle: asyncio.Handle) -> None:
        context = handle._context  # type: ignore[attr-defined]
        heapq.heappush(self._heap, (arrival_in(context), next(self._order), handle))

    def popleft(self) -> asyncio.Handle:
        return heapq.heappop(self._heap)[2]

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._heap)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """asyncio's loop with its ready callbacks in an ``OldestFirst``."""
    loop: Any = asyncio.new_event_loop()
    if not isinstance(getattr(loop, "_ready", None), collections.deque) or loop._ready:
        raise RuntimeError("this asyncio keeps its ready callbacks otherwise")
    loop._ready = OldestFirst()
    return loop
