"""The embedded loop serves older requests first, HTTP requests from their arrival."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from cumulo.api.request_id import RequestIdMiddleware
from cumulo.context import current_arrival, set_arrival


async def _steps(name: str, arrival: float, steps: int, seen: list[str]) -> None:
    set_arrival(arrival)
    for _ in range(steps):
        await asyncio.sleep(0)
        seen.append(name)


async def test_an_older_request_finishes_its_steps_before_a_newer_one_takes_a_turn() -> None:
    seen: list[str] = []
    newer = asyncio.create_task(_steps("newer", 200.0, 3, seen))
    older = asyncio.create_task(_steps("older", 100.0, 3, seen))
    await asyncio.gather(newer, older)
    assert seen == ["older"] * 3 + ["newer"] * 3


async def test_work_no_request_asked_for_goes_first() -> None:
    seen: list[str] = []
    request = asyncio.create_task(_steps("request", 100.0, 3, seen))
    await asyncio.sleep(0)
    periodic = asyncio.create_task(_steps("periodic", 0.0, 2, seen))
    await asyncio.gather(request, periodic)
    assert seen.index("periodic") < seen.index("request")
    assert seen[-1] == "request"


async def test_the_same_arrival_keeps_first_in_first_out() -> None:
    seen: list[str] = []
    tasks = [asyncio.create_task(_steps(name, 100.0, 2, seen)) for name in "abc"]
    await asyncio.gather(*tasks)
    assert seen == ["a", "b", "c", "a", "b", "c"]


async def test_a_task_keeps_the_arrival_of_the_request_that_started_it() -> None:
    set_arrival(42.0)

    async def child() -> float:
        return current_arrival()

    assert await asyncio.create_task(child()) == 42.0


async def test_a_new_http_request_waits_for_the_work_of_older_ones() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append("new request's handler")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=RequestIdMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        older = asyncio.create_task(_steps("older request", time.time() - 1, 3, seen))
        response = await client.get("/")
        await older
    assert response.status_code == 204
    assert seen == ["older request"] * 3 + ["new request's handler"]
