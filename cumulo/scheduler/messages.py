"""What the scheduler accepts and answers on the bus (topic ``scheduler``)."""

from __future__ import annotations

from pydantic import BaseModel

from cumulo.rpc.messages import Message
from cumulo.scheduler.request_spec import RequestSpec


class Selection(BaseModel):
    """One host for one instance: the claimed one, or an alternate to claim on a reschedule."""

    host: str
    nodename: str
    node_uuid: str
    availability_zone: str


class SelectDestinations(Message):
    """Pick and claim a host for each of ``instance_uuids`` (Nova's ``select_destinations``)."""

    TYPE = "scheduler.SelectDestinations"

    spec: RequestSpec
    instance_uuids: list[str]
    return_alternates: bool = True


class Selections(Message):
    """Per instance, in the order asked: the claimed host, then up to
    ``spec.num_alternates`` alternates (not claimed)."""

    TYPE = "scheduler.Selections"

    hosts: list[list[Selection]]
