"""Message classes: wire names, versions, the registry, tolerance of unknown fields."""

from __future__ import annotations

import pytest

from cumulo.rpc import Message
from cumulo.rpc.messages import major, message_class


class Plain(Message):
    count: int = 0


class Named(Message):
    TYPE = "unit.rpc.Named"
    VERSION = "1.3"
    name: str


class Child(Named):
    extra: bool = False


def test_type_defaults_to_class_name_and_can_be_set() -> None:
    assert (Plain.TYPE, Named.TYPE, Child.TYPE) == ("Plain", "unit.rpc.Named", "Child")
    assert (Plain.VERSION, Named.VERSION, Child.VERSION) == ("1.0", "1.3", "1.3")


def test_registry_maps_type_back_to_class() -> None:
    assert message_class("unit.rpc.Named") is Named
    assert message_class("Child") is Child
    assert message_class("never.defined") is None


def test_unknown_fields_are_ignored_and_missing_ones_defaulted() -> None:
    assert Plain.model_validate({"count": 2, "from_a_newer_sender": "x"}) == Plain(count=2)
    assert Plain.model_validate({}) == Plain(count=0)


def test_a_second_class_cannot_take_a_used_type_name() -> None:
    with pytest.raises(TypeError, match=r"already defined by .*test_messages\.Named"):

        class Impostor(Message):
            TYPE = "unit.rpc.Named"

    assert message_class("unit.rpc.Named") is Named


def test_redefining_the_same_class_replaces_it() -> None:
    def define() -> type[Message]:
        class Again(Message):
            TYPE = "unit.rpc.Again"

        return Again

    define()
    second = define()

    assert message_class("unit.rpc.Again") is second


@pytest.mark.parametrize("version", ["1", "v1.0", "1.0.0", ""])
def test_version_must_be_major_dot_minor(version: str) -> None:
    with pytest.raises(TypeError, match=r"major\.minor"):
        type("Bad", (Message,), {"VERSION": version, "__module__": __name__})


def test_major() -> None:
    assert (major("1.0"), major("12.7"), major("x")) == (1, 12, None)
