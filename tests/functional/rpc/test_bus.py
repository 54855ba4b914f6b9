"""The bus contract, on the in-memory transport and on RabbitMQ alike."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from cumulo import exception
from cumulo.context import RequestContext, current_request_id, reset_request_id, set_request_id
from cumulo.log import RequestIdFilter
from cumulo.rpc import (
    Bus,
    BusUnavailable,
    CallTimeout,
    Handler,
    IncompatibleMessage,
    Message,
    RemoteError,
    UnknownMessage,
)
from cumulo.rpc.envelope import Envelope
from tests.fakes import DEMO
from tests.functional.rpc.conftest import WAIT, BusFactory, until
from tests.functional.rpc.workload import Echo, EchoReply, Job, WidgetNotFound


async def echo(ctx: RequestContext, msg: Echo) -> EchoReply:
    return EchoReply(text=msg.text.upper())


async def settle() -> None:
    """Long enough for a duplicate delivery to show up if there were one."""
    await asyncio.sleep(0.3)


async def test_call_returns_typed_reply(bus: Bus) -> None:
    await bus.serve("conductor", {Echo: echo})

    reply = await bus.call("conductor", Echo(text="hi"), DEMO)
    typed = await bus.call("conductor", Echo(text="yo"), DEMO, returns=EchoReply)

    assert reply == EchoReply(text="HI")
    assert typed.text == "YO"


async def test_call_handler_returning_nothing_gives_none(bus: Bus) -> None:
    async def nothing(ctx: RequestContext, msg: Job) -> None:
        return None

    await bus.serve("conductor", {Job: nothing})

    assert await bus.call("conductor", Job(job_id="1"), DEMO) is None


async def test_call_reply_of_unexpected_type_is_refused(bus: Bus) -> None:
    await bus.serve("conductor", {Echo: echo})

    with pytest.raises(IncompatibleMessage, match=r"expected a rpctest\.Job reply"):
        await bus.call("conductor", Echo(text="hi"), DEMO, returns=Job)


async def test_call_times_out_and_late_reply_is_dropped(bus: Bus) -> None:
    finished = asyncio.Event()

    async def slow(ctx: RequestContext, msg: Echo) -> EchoReply:
        await asyncio.sleep(0.4)
        finished.set()
        return EchoReply(text="late")

    await bus.serve("scheduler", {Echo: slow})

    with pytest.raises(CallTimeout, match=r"No reply from scheduler within 0.1 seconds"):
        await bus.call("scheduler", Echo(text="hi"), DEMO, timeout=0.1)
    await asyncio.wait_for(finished.wait(), WAIT)
    assert await bus.call("scheduler", Echo(text="again"), DEMO) == EchoReply(text="late")


async def test_call_to_topic_without_server_times_out(bus: Bus) -> None:
    with pytest.raises(CallTimeout):
        await bus.call("nobody", Echo(text="hi"), DEMO, timeout=0.2)


async def test_expired_call_is_not_handled_by_a_later_server(bus: Bus) -> None:
    handled: list[str] = []

    async def record(ctx: RequestContext, msg: Echo) -> None:
        handled.append(msg.text)

    with pytest.raises(CallTimeout):
        await bus.call("conductor", Echo(text="stale"), DEMO, timeout=0.1)
    await asyncio.sleep(0.2)
    await bus.serve("conductor", {Echo: record})
    await bus.cast("conductor", Echo(text="fresh"), DEMO)
    await until(lambda: handled == ["fresh"])
    await settle()

    assert handled == ["fresh"]


async def test_cast_is_handled_once_by_one_of_two_servers(new_bus: BusFactory) -> None:
    handled: list[tuple[str, str]] = []

    def server(name: str) -> dict[type[Message], Handler]:
        async def record(ctx: RequestContext, job: Job) -> None:
            handled.append((name, job.job_id))

        return {Job: record}

    sender, worker_a, worker_b = new_bus(), new_bus(), new_bus()
    await worker_a.serve("conductor", server("a"))
    await worker_b.serve("conductor", server("b"))

    for n in range(20):
        await sender.cast("conductor", Job(job_id=str(n)), DEMO)
    await until(lambda: len(handled) >= 20)
    await settle()

    assert sorted(int(job_id) for _, job_id in handled) == list(range(20))
    assert {name for name, _ in handled} <= {"a", "b"}


async def test_cast_waits_in_its_queue_until_a_server_starts(new_bus: BusFactory) -> None:
    sender, worker = new_bus(), new_bus()
    got: asyncio.Queue[Job] = asyncio.Queue()

    async def record(ctx: RequestContext, job: Job) -> None:
        await got.put(job)

    await worker.serve("conductor", {Job: record})  # the durable queue now exists
    await worker.close(grace=0)
    await sender.cast("conductor", Job(job_id="queued"), DEMO)
    await new_bus().serve("conductor", {Job: record})

    assert (await asyncio.wait_for(got.get(), WAIT)).job_id == "queued"


async def test_fanout_reaches_every_fanout_server(new_bus: BusFactory) -> None:
    got: dict[str, list[str]] = {"a": [], "b": [], "c": [], "work": []}

    def into(name: str) -> dict[type[Message], Handler]:
        async def record(ctx: RequestContext, msg: Echo) -> None:
            got[name].append(msg.text)

        return {Echo: record}

    one, two = new_bus(), new_bus()
    await one.serve("scheduler", into("a"), fanout=True)
    await one.serve("scheduler", into("b"), fanout=True)
    await two.serve("scheduler", into("c"), fanout=True)
    await two.serve("scheduler", into("work"))

    await one.fanout("scheduler", Echo(text="host state changed"), DEMO)
    await until(lambda: all(got[n] for n in "abc"))
    await settle()

    assert got == {n: ["host state changed"] for n in "abc"} | {"work": []}


async def test_fanout_to_nobody_is_dropped(bus: Bus) -> None:
    await bus.fanout("nobody", Echo(text="anyone?"), DEMO)


async def test_context_and_request_id_reach_the_handler(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    seen: dict[str, object] = {}
    log = logging.getLogger("tests.rpc.handler")

    async def record(ctx: RequestContext, msg: Echo) -> EchoReply:
        seen["ctx"] = ctx
        seen["request_id"] = current_request_id()
        log.info("handling %s", msg.text)
        return EchoReply(text="ok")

    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO, logger="tests.rpc.handler")
    await bus.serve("compute.host1", {Echo: record})
    token = set_request_id("req-of-the-caller-task")
    try:
        await bus.call("compute.host1", Echo(text="boot"), DEMO)
        assert current_request_id() == "req-of-the-caller-task"
    finally:
        reset_request_id(token)

    ctx = seen["ctx"]
    assert isinstance(ctx, RequestContext)
    assert (ctx.user_id, ctx.project_id, ctx.roles) == (DEMO.user_id, DEMO.project_id, DEMO.roles)
    assert ctx.request_id == DEMO.request_id == seen["request_id"]
    [line] = [r for r in caplog.records if r.name == "tests.rpc.handler"]
    assert line.request_id == DEMO.request_id  # type: ignore[attr-defined]


async def test_remote_domain_error_is_raised_as_its_class(bus: Bus) -> None:
    async def missing(ctx: RequestContext, msg: Echo) -> None:
        raise WidgetNotFound(widget_id=msg.text)

    async def busy(ctx: RequestContext, msg: Job) -> None:
        raise exception.Conflict("Instance is busy.")

    await bus.serve("compute.host1", {Echo: missing, Job: busy})

    with pytest.raises(WidgetNotFound) as not_found:
        await bus.call("compute.host1", Echo(text="w-1"), DEMO)
    with pytest.raises(exception.Conflict) as conflict:
        await bus.call("compute.host1", Job(job_id="1"), DEMO)

    assert not_found.value.format_message() == "Widget w-1 could not be found."
    assert not_found.value.code == 404
    assert not_found.value.kwargs == {"widget_id": "w-1"}
    assert (conflict.value.code, str(conflict.value)) == (409, "Instance is busy.")


async def test_unknown_error_becomes_remote_error(bus: Bus) -> None:
    async def broken(ctx: RequestContext, msg: Echo) -> None:
        raise ValueError("disk on fire")

    await bus.serve("compute.host1", {Echo: broken})

    with pytest.raises(RemoteError) as err:
        await bus.call("compute.host1", Echo(text="x"), DEMO)

    assert (err.value.exc_type, err.value.value, err.value.code) == (
        "ValueError",
        "disk on fire",
        500,
    )
    assert "disk on fire" in str(err.value)


async def test_handler_returning_a_non_message_is_a_remote_error(bus: Bus) -> None:
    async def sloppy(ctx: RequestContext, msg: Echo) -> object:
        return {"text": "not a message"}

    await bus.serve("conductor", {Echo: sloppy})  # type: ignore[dict-item]

    with pytest.raises(RemoteError, match="TypeError"):
        await bus.call("conductor", Echo(text="x"), DEMO)


async def test_call_of_a_message_the_server_does_not_handle(bus: Bus) -> None:
    await bus.serve("conductor", {Echo: echo})

    with pytest.raises(UnknownMessage, match=r"No handler for message rpctest\.Job on conductor"):
        await bus.call("conductor", Job(job_id="1"), DEMO)


async def test_failed_cast_is_logged_and_not_redelivered(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[str] = []

    async def broken(ctx: RequestContext, job: Job) -> None:
        attempts.append(job.job_id)
        raise RuntimeError("bug")

    await bus.serve("conductor", {Job: broken})
    await bus.cast("conductor", Job(job_id="j"), DEMO)
    await until(lambda: bool(attempts))
    await settle()

    assert attempts == ["j"]
    assert "message rpctest.Job on conductor failed" in caplog.text


async def _send_raw(bus: Bus, topic: str, envelope: dict[str, object]) -> None:
    """What a newer (or older) sender would put on the wire."""
    await bus.transport.send(topic, json.dumps(envelope).encode())


def _raw_echo(version: str, payload: dict[str, object]) -> dict[str, object]:
    base = Envelope.wrap(Echo(text="-"), DEMO).model_dump(mode="json")
    return base | {"version": version, "payload": payload}


async def test_newer_sender_with_unknown_fields_is_understood(bus: Bus) -> None:
    got: asyncio.Queue[Echo] = asyncio.Queue()

    async def record(ctx: RequestContext, msg: Echo) -> None:
        await got.put(msg)

    await bus.serve("conductor", {Echo: record})
    envelope = _raw_echo("1.0", {"text": "hi", "added_in_1_1": [1, 2]})
    envelope["trace_parent"] = "00-abc"
    await _send_raw(bus, "conductor", envelope)
    await _send_raw(bus, "conductor", _raw_echo("1.7", {"text": "minor bump"}))

    first = await asyncio.wait_for(got.get(), WAIT)
    second = await asyncio.wait_for(got.get(), WAIT)
    assert (first, second) == (Echo(text="hi"), Echo(text="minor bump"))


async def test_message_of_another_major_version_is_refused(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[Echo] = []

    async def record(ctx: RequestContext, msg: Echo) -> None:
        handled.append(msg)

    await bus.serve("conductor", {Echo: record})
    await _send_raw(bus, "conductor", _raw_echo("2.0", {"text": "v2"}))
    await _send_raw(bus, "conductor", json.loads(b"{}"))  # not an envelope at all
    await until(lambda: "Dropping an unreadable" in caplog.text)
    await until(lambda: "version 2.0" in caplog.text)

    assert handled == []


async def test_closed_bus_refuses_work(bus: Bus) -> None:
    await bus.close()

    with pytest.raises(BusUnavailable, match="closed"):
        await bus.cast("conductor", Job(job_id="1"), DEMO)


async def test_pending_call_fails_when_the_bus_closes(new_bus: BusFactory) -> None:
    caller, worker = new_bus(), new_bus()
    started = asyncio.Event()

    async def hang(ctx: RequestContext, msg: Echo) -> None:
        started.set()
        await asyncio.Event().wait()

    await worker.serve("conductor", {Echo: hang})
    call = asyncio.create_task(caller.call("conductor", Echo(text="x"), DEMO))
    await asyncio.wait_for(started.wait(), WAIT)
    await caller.close()

    with pytest.raises(BusUnavailable):
        await call


async def test_serve_wants_message_classes(bus: Bus) -> None:
    with pytest.raises(TypeError, match="Message classes"):
        await bus.serve("conductor", {dict: echo})  # type: ignore[dict-item]
