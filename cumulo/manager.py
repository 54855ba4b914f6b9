"""The server side of a service on the bus: what every ``<service>/manager.py`` builds on.

A manager owns one topic. ``handlers()`` maps each message class it accepts to
the coroutine that does the work; ``start``/``stop`` bracket anything it runs in
the background (periodic tasks). ``cumulo up`` starts every manager in its one
process; ``cumulo serve SERVICE`` starts that service's.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler
from cumulo.runtime import Runtime


class Manager:
    topic: str

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @classmethod
    def for_process(cls, runtime: Runtime) -> list[Manager]:
        """The managers of this service one process runs: one, or (compute) one per host."""
        return [cls(runtime)]

    def handlers(self) -> Mapping[type[Message], Handler]:
        raise NotImplementedError

    async def start(self) -> None:
        """Begin background work; the bus is already serving ``handlers()``."""

    async def stop(self) -> None:
        """End background work before the bus closes."""


MANAGERS: dict[str, str] = {
    "scheduler": "cumulo.scheduler.manager:SchedulerManager",
    "compute": "cumulo.compute.manager:ComputeManager",
    "image": "cumulo.image.manager:ImageManager",
    "network": "cumulo.network.manager:NetworkManager",
    "volume": "cumulo.volume.manager:VolumeManager",
    "conductor": "cumulo.conductor.manager:ConductorManager",
}
"""Service name → its manager class, imported only in a process that runs it.

In the order one process starts them: the conductor last, so the builds it
resumes at start find the hosts and services they need.
"""


def manager_class(service: str) -> type[Manager]:
    module, _, name = MANAGERS[service].partition(":")
    cls: type[Manager] = getattr(importlib.import_module(module), name)
    return cls


async def start_managers(runtime: Runtime, services: Iterable[str]) -> list[Manager]:
    """Build, serve and start the managers of ``services`` that exist."""
    if runtime.bus is None:
        raise RuntimeError("managers need the runtime's bus")
    started: list[Manager] = []
    for service in services:
        if service not in MANAGERS:
            continue
        for manager in manager_class(service).for_process(runtime):
            await runtime.bus.serve(manager.topic, manager.handlers())
            await manager.start()
            started.append(manager)
    return started


async def stop_managers(managers: Iterable[Manager]) -> None:
    for manager in reversed(list(managers)):
        await manager.stop()
