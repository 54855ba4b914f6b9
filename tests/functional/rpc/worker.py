"""A RabbitMQ worker that SIGKILLs itself in the middle of handling a Job.

    python -m tests.functional.rpc.worker URL EXCHANGE TOPIC

It prints ``ready`` once it serves TOPIC and ``handling <job_id>`` just before
it dies, so the redelivery test knows the message was taken and never acked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from cumulo.config import BusSettings
from cumulo.context import RequestContext
from cumulo.rpc import make_bus
from tests.functional.rpc.workload import Job


async def die(ctx: RequestContext, job: Job) -> None:
    print(f"handling {job.job_id}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


async def main(url: str, exchange: str, topic: str) -> None:
    bus = make_bus(BusSettings(transport="rabbit", url=url, exchange=exchange))
    await bus.serve(topic, {Job: die})
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
