"""Typed, versioned bus messages and the registry that maps a type name back to its class.

Each service declares the closed set of messages it accepts and returns in its
own ``messages.py``::

    class SelectDestinations(Message):
        VERSION = "1.0"
        request_spec: RequestSpec
        max_count: int = 1

On the wire a message is its ``TYPE`` (the class name unless the class sets
one), its ``VERSION`` (``"major.minor"``) and its fields as JSON. A receiver
ignores fields it does not know and fills absent ones from defaults, so a newer
sender can talk to an older receiver (and back) as long as the major version is
the same: add fields with defaults and bump the minor; a change an old reader
cannot survive bumps the major.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

_VERSION = re.compile(r"(\d+)\.(\d+)")

_REGISTRY: dict[str, type[Message]] = {}


class Message(BaseModel):
    """Base of every message on the bus."""

    model_config = ConfigDict(extra="ignore")

    TYPE: ClassVar[str] = "Message"
    VERSION: ClassVar[str] = "1.0"

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "TYPE" not in cls.__dict__:
            cls.TYPE = cls.__name__
        if _VERSION.fullmatch(cls.VERSION) is None:
            raise TypeError(f"{cls.__qualname__}.VERSION must be 'major.minor': {cls.VERSION!r}")
        _register(cls)


def _register(cls: type[Message]) -> None:
    known = _REGISTRY.get(cls.TYPE)
    if known is not None and _origin(known) != _origin(cls):
        raise TypeError(
            f"message type {cls.TYPE!r} is already defined by {_origin(known)}; "
            f"give {_origin(cls)} another TYPE"
        )
    _REGISTRY[cls.TYPE] = cls


def _origin(cls: type[Message]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def message_class(type_name: str) -> type[Message] | None:
    """The message class registered under ``type_name``, if this process knows it."""
    return _REGISTRY.get(type_name)


def major(version: str) -> int | None:
    """The major part of a ``"major.minor"`` version, or None if it is not one."""
    match = _VERSION.fullmatch(version)
    return int(match.group(1)) if match else None
