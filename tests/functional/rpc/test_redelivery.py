"""At-least-once delivery: a message whose handler never finished is handled again."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from cumulo.context import RequestContext
from tests.fakes import DEMO
from tests.functional.rpc.conftest import WAIT, BusFactory, until
from tests.functional.rpc.workload import Job

REPO = Path(__file__).resolve().parents[3]


class BlockFirst:
    """A handler that hangs on its first delivery and finishes on any later one."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.blocked = asyncio.Event()
        self.done: asyncio.Queue[str] = asyncio.Queue()
        self.first_task: asyncio.Task[object] | None = None

    async def __call__(self, ctx: RequestContext, job: Job) -> None:
        self.attempts.append(job.job_id)
        if len(self.attempts) == 1:
            self.first_task = asyncio.current_task()
            self.blocked.set()
            await asyncio.Event().wait()
        await self.done.put(job.job_id)


async def test_server_stopped_mid_handler_gives_the_message_back(new_bus: BusFactory) -> None:
    handler = BlockFirst()
    sender, dying = new_bus(), new_bus()
    server = await dying.serve("conductor", {Job: handler})
    await sender.cast("conductor", Job(job_id="j1"), DEMO)
    await asyncio.wait_for(handler.blocked.wait(), WAIT)

    await server.stop(grace=0)
    await new_bus().serve("conductor", {Job: handler})

    assert await asyncio.wait_for(handler.done.get(), WAIT) == "j1"
    assert handler.attempts == ["j1", "j1"]


async def test_handler_task_cancelled_mid_handler_gives_the_message_back(
    new_bus: BusFactory,
) -> None:
    handler = BlockFirst()
    sender, worker = new_bus(), new_bus()
    await worker.serve("conductor", {Job: handler})
    await sender.cast("conductor", Job(job_id="j2"), DEMO)
    await asyncio.wait_for(handler.blocked.wait(), WAIT)
    await new_bus().serve("conductor", {Job: handler})

    assert handler.first_task is not None
    handler.first_task.cancel()

    assert await asyncio.wait_for(handler.done.get(), WAIT) == "j2"
    assert handler.attempts == ["j2", "j2"]


async def test_graceful_stop_lets_the_handler_finish(new_bus: BusFactory) -> None:
    finished: list[str] = []
    started = asyncio.Event()

    async def slow(ctx: RequestContext, job: Job) -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.append(job.job_id)

    sender, worker = new_bus(), new_bus()
    server = await worker.serve("conductor", {Job: slow})
    await sender.cast("conductor", Job(job_id="j3"), DEMO)
    await asyncio.wait_for(started.wait(), WAIT)
    await server.stop(grace=WAIT)
    assert finished == ["j3"]

    await new_bus().serve("conductor", {Job: slow})
    await asyncio.sleep(0.3)
    assert finished == ["j3"]


@pytest.mark.rabbitmq
async def test_rabbit_message_redelivered_after_worker_is_killed(
    new_rabbit_bus: BusFactory,
) -> None:
    settings = new_rabbit_bus.settings
    sender = new_rabbit_bus()
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.functional.rpc.worker",
        settings.url, settings.exchange, "conductor",
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert worker.stdout is not None
    try:
        assert await asyncio.wait_for(worker.stdout.readline(), 20) == b"ready\n"
        await sender.cast("conductor", Job(job_id="j4"), DEMO)
        assert await asyncio.wait_for(worker.stdout.readline(), WAIT) == b"handling j4\n"
        assert await asyncio.wait_for(worker.wait(), WAIT) == -signal.SIGKILL

        got: list[str] = []

        async def record(ctx: RequestContext, job: Job) -> None:
            got.append(job.job_id)

        await new_rabbit_bus().serve("conductor", {Job: record})
        await until(lambda: got == ["j4"])
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
