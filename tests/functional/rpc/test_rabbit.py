"""What the RabbitMQ transport does when the broker is not there."""

from __future__ import annotations

import socket

import pytest

from cumulo.config import BusSettings
from cumulo.rpc import BusUnavailable, make_bus
from tests.fakes import DEMO
from tests.functional.rpc.workload import Job


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_broker_is_bus_unavailable_without_the_password() -> None:
    url = f"amqp://cumulo:s3cret@127.0.0.1:{_closed_port()}/"
    bus = make_bus(BusSettings(transport="rabbit", url=url, exchange="cumulo-unreachable"))

    with pytest.raises(BusUnavailable) as err:
        await bus.cast("conductor", Job(job_id="1"), DEMO)
    await bus.close()

    assert "127.0.0.1" in str(err.value)
    assert "s3cret" not in str(err.value)
