"""The typed client of the compute hosts: the conductor and the API reach one host by its topic."""

from __future__ import annotations

from typing import Literal

from cumulo.compute.messages import (
    BuildAndRunInstance,
    ConsoleOutput,
    GetConsoleOutput,
    RebootInstance,
    StartInstance,
    StopInstance,
    TerminateInstance,
)
from cumulo.context import RequestContext
from cumulo.rpc import Bus


def topic(host: str) -> str:
    return f"compute.{host}"


class ComputeAPI:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def build_and_run_instance(
        self, ctx: RequestContext, host: str, msg: BuildAndRunInstance
    ) -> None:
        await self.bus.cast(topic(host), msg, ctx)

    async def terminate_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self.bus.cast(topic(host), TerminateInstance(instance_uuid=instance_uuid), ctx)

    async def stop_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, clean_shutdown: bool = True
    ) -> None:
        msg = StopInstance(instance_uuid=instance_uuid, clean_shutdown=clean_shutdown)
        await self.bus.cast(topic(host), msg, ctx)

    async def start_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self.bus.cast(topic(host), StartInstance(instance_uuid=instance_uuid), ctx)

    async def reboot_instance(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        reboot_type: Literal["SOFT", "HARD"],
    ) -> None:
        msg = RebootInstance(instance_uuid=instance_uuid, reboot_type=reboot_type)
        await self.bus.cast(topic(host), msg, ctx)

    async def get_console_output(
        self, ctx: RequestContext, host: str, instance_uuid: str, length: int | None = None
    ) -> str:
        msg = GetConsoleOutput(instance_uuid=instance_uuid, length=length)
        reply = await self.bus.call(topic(host), msg, ctx, returns=ConsoleOutput)
        return reply.output
