"""The typed client of the conductor: the API and the compute hosts cast builds to it."""

from __future__ import annotations

from cumulo.conductor.messages import BuildInstances
from cumulo.context import RequestContext
from cumulo.rpc import Bus

TOPIC = "conductor"


class ConductorAPI:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def build_instances(self, ctx: RequestContext, msg: BuildInstances) -> None:
        await self.bus.cast(TOPIC, msg, ctx)
