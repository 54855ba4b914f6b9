"""Buses on both transports, with everything they declared on RabbitMQ deleted afterwards.

The machine (and CI) runs RabbitMQ on 127.0.0.1:5672; when it is not there the
rabbit tests fail. Each test gets its own exchange name, and every queue and
exchange name derives from it, so tests run in parallel without meeting.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import aio_pika
import pytest

from cumulo.config import BusSettings
from cumulo.rpc import Bus, make_bus
from cumulo.rpc.rabbit import RabbitTransport

RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"

WAIT = 5.0
"""Seconds a test waits for something that normally takes milliseconds."""

TRANSPORTS = [
    pytest.param("memory", id="memory"),
    pytest.param("rabbit", id="rabbit", marks=pytest.mark.rabbitmq),
]


class BusFactory:
    """Makes buses on one settings (same exchange: they reach each other), closes them after."""

    def __init__(self, transport: str) -> None:
        self.settings = BusSettings(
            transport=transport,
            url=RABBIT_URL,
            exchange=f"cumulo-test-{uuid.uuid4().hex[:12]}",
            call_timeout=5.0,
        )
        self.buses: list[Bus] = []

    def __call__(self) -> Bus:
        bus = make_bus(self.settings)
        self.buses.append(bus)
        return bus

    async def cleanup(self) -> None:
        for bus in self.buses:
            await bus.close(grace=0)
        rabbits = [bus.transport for bus in self.buses]
        queues = {q for t in rabbits if isinstance(t, RabbitTransport) for q in t.declared_queues}
        exchanges = {
            e for t in rabbits if isinstance(t, RabbitTransport) for e in t.declared_exchanges
        }
        if queues or exchanges:
            await delete_topology(queues, exchanges)


async def delete_topology(queues: set[str], exchanges: set[str]) -> None:
    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)


@pytest.fixture(params=TRANSPORTS)
async def new_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    factory = BusFactory(request.param)
    yield factory
    await factory.cleanup()


@pytest.fixture
async def new_rabbit_bus() -> AsyncIterator[BusFactory]:
    factory = BusFactory("rabbit")
    yield factory
    await factory.cleanup()


@pytest.fixture
def bus(new_bus: BusFactory) -> Bus:
    return new_bus()


async def until(predicate: Callable[[], bool], seconds: float = WAIT) -> None:
    """Return once ``predicate()`` holds; fail the test after ``seconds``."""
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still not true after {seconds} s")
