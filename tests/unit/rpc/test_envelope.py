"""The wire format: envelopes, replies, and errors crossing the bus."""

from __future__ import annotations

import json

import pytest

from cumulo import exception
from cumulo.rpc import IncompatibleMessage, Message, RemoteError, UnknownMessage
from cumulo.rpc.envelope import Envelope, Failure, Reply
from tests.fakes import DEMO


class Resize(Message):
    TYPE = "unit.rpc.Resize"
    VERSION = "1.2"
    flavor: str
    clean: bool = True


class ThingGone(exception.NotFound):
    message = "Thing %(thing)s is gone."


def test_envelope_round_trip_keeps_message_and_context() -> None:
    envelope = Envelope.wrap(Resize(flavor="m1.small"), DEMO, reply_to="reply.1")

    back = Envelope.decode(envelope.encode())

    assert back == envelope
    assert back.open(Resize) == Resize(flavor="m1.small")
    assert (back.message_type, back.version, back.context) == ("unit.rpc.Resize", "1.2", DEMO)


def test_envelope_ignores_fields_it_does_not_know() -> None:
    raw = Envelope.wrap(Resize(flavor="a"), DEMO).model_dump(mode="json") | {"hops": 3}

    assert Envelope.decode(json.dumps(raw).encode()).open(Resize).flavor == "a"


@pytest.mark.parametrize("version", ["1.0", "1.2", "1.9"])
def test_any_minor_version_is_read(version: str) -> None:
    envelope = Envelope(
        message_type=Resize.TYPE, version=version, payload={"flavor": "a"}, context=DEMO
    )

    assert envelope.open(Resize) == Resize(flavor="a")


@pytest.mark.parametrize(
    ("version", "payload", "reason"),
    [
        ("2.0", {"flavor": "a"}, "this side reads major version 1"),
        ("0.9", {"flavor": "a"}, "this side reads major version 1"),
        ("junk", {"flavor": "a"}, "this side reads major version 1"),
        ("1.2", {"clean": False}, "flavor"),
    ],
)
def test_unreadable_message_is_incompatible(
    version: str, payload: dict[str, object], reason: str
) -> None:
    envelope = Envelope(message_type=Resize.TYPE, version=version, payload=payload, context=DEMO)

    with pytest.raises(IncompatibleMessage, match=reason):
        envelope.open(Resize)


def _cross(exc: BaseException) -> exception.CumuloError:
    """Raise-side → wire → call-side."""
    reply = Reply.decode(Reply.failure("c1", exc).encode())
    assert reply.error is not None
    return reply.error.to_exception()


def test_domain_error_crosses_as_its_class() -> None:
    back = _cross(ThingGone(thing="t1"))

    assert type(back) is ThingGone
    assert (back.format_message(), back.code, back.kwargs) == (
        "Thing t1 is gone.",
        404,
        {"thing": "t1"},
    )


def test_error_kwargs_that_are_not_json_travel_as_text() -> None:
    back = _cross(exception.InvalidInput(reason=ValueError("bad size")))

    assert type(back) is exception.InvalidInput
    assert back.kwargs == {"reason": "bad size"}


def test_error_unknown_here_keeps_name_message_and_code() -> None:
    failure = Failure(exc_type="FromTheFuture", message="New kind of trouble.", code=409)

    back = failure.to_exception()

    assert isinstance(back, RemoteError)
    assert (back.exc_type, back.value, back.code) == ("FromTheFuture", "New kind of trouble.", 409)


def test_non_domain_error_becomes_remote_error() -> None:
    back = _cross(KeyError("disk"))

    assert isinstance(back, RemoteError)
    assert (back.exc_type, back.code) == ("KeyError", 500)


def test_remote_error_relayed_through_a_second_hop_keeps_the_original_type() -> None:
    back = _cross(_cross(OSError("no space left")))

    assert isinstance(back, RemoteError)
    assert (back.exc_type, back.value) == ("OSError", "no space left")


def test_reply_carries_a_message_or_nothing() -> None:
    assert Reply.decode(Reply.result("c", Resize(flavor="b")).encode()).unwrap("t") == Resize(
        flavor="b"
    )
    assert Reply.decode(Reply.result("c", None).encode()).unwrap("t") is None


def test_reply_of_a_type_unknown_here() -> None:
    reply = Reply(correlation_id="c", message_type="unit.rpc.Unheard", version="1.0", payload={})

    with pytest.raises(UnknownMessage, match=r"unit\.rpc\.Unheard"):
        reply.unwrap("conductor")


def test_reply_of_another_major_version() -> None:
    reply = Reply(
        correlation_id="c", message_type=Resize.TYPE, version="3.0", payload={"flavor": "a"}
    )

    with pytest.raises(IncompatibleMessage):
        reply.unwrap("conductor")


def test_same_short_name_in_two_services_resolves_to_the_right_class() -> None:
    from cumulo import exception
    from cumulo.rpc.envelope import Failure

    class InvalidInput(exception.Invalid):  # a service reusing an OpenStack short name
        message = "Invalid input for operation: %(error_message)s."

    failure = Failure.from_exception(InvalidInput(error_message="bad"))
    assert type(failure.to_exception()) is InvalidInput
    base = Failure.from_exception(exception.InvalidInput(reason="x"))
    assert type(base.to_exception()) is exception.InvalidInput
    assert exception.error_class("InvalidInput") is exception.InvalidInput
