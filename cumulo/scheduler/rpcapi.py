"""The typed client of the scheduler: the conductor asks it for hosts."""

from __future__ import annotations

from cumulo.context import RequestContext
from cumulo.rpc import Bus
from cumulo.scheduler.messages import SelectDestinations, Selection, Selections
from cumulo.scheduler.request_spec import RequestSpec

TOPIC = "scheduler"


class SchedulerAPI:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def select_destinations(
        self,
        ctx: RequestContext,
        spec: RequestSpec,
        instance_uuids: list[str],
        return_alternates: bool = True,
    ) -> list[list[Selection]]:
        """Per instance, its claimed host first, then its alternates.

        Raises ``NoValidHost`` when not every instance could be placed; then
        no claim of this request is left behind.
        """
        msg = SelectDestinations(
            spec=spec, instance_uuids=instance_uuids, return_alternates=return_alternates
        )
        reply = await self.bus.call(TOPIC, msg, ctx, returns=Selections)
        return reply.hosts
