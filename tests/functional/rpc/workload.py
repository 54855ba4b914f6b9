"""Messages and errors the bus tests send around (also imported by ``worker.py``)."""

from __future__ import annotations

from cumulo.exception import NotFound
from cumulo.rpc import Message


class Echo(Message):
    TYPE = "rpctest.Echo"
    text: str


class EchoReply(Message):
    TYPE = "rpctest.EchoReply"
    text: str


class Job(Message):
    TYPE = "rpctest.Job"
    job_id: str


class WidgetNotFound(NotFound):
    message = "Widget %(widget_id)s could not be found."
