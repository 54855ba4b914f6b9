"""The image service's side of the bus."""

from __future__ import annotations

from collections.abc import Mapping

from cumulo.manager import Manager
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler


class ImageManager(Manager):
    topic = "image"

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {}
