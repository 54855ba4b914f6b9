"""What a compute host accepts on the bus (topic ``compute.<host>``)."""

from __future__ import annotations

from typing import Literal

from cumulo.network.messages import RequestedNetworks
from cumulo.rpc.messages import Message
from cumulo.scheduler.messages import Selection
from cumulo.scheduler.request_spec import RequestSpec


class BuildAndRunInstance(Message):
    """Build the instance on this host, whose claim the scheduler (or conductor) already made.

    ``host_list`` holds the alternates left for a reschedule.
    """

    TYPE = "compute.BuildAndRunInstance"

    instance_uuid: str
    node: str
    request_spec: RequestSpec
    requested_networks: RequestedNetworks = None
    security_groups: list[str] = []
    admin_password: str | None = None
    host_list: list[Selection] = []
    num_attempts: int = 1


class TerminateInstance(Message):
    TYPE = "compute.TerminateInstance"

    instance_uuid: str


class StopInstance(Message):
    """Power the guest off; ``clean_shutdown`` first asks the guest OS to shut down."""

    TYPE = "compute.StopInstance"

    instance_uuid: str
    clean_shutdown: bool = True


class StartInstance(Message):
    TYPE = "compute.StartInstance"

    instance_uuid: str


class RebootInstance(Message):
    TYPE = "compute.RebootInstance"

    instance_uuid: str
    reboot_type: Literal["SOFT", "HARD"]


class GetConsoleOutput(Message):
    TYPE = "compute.GetConsoleOutput"

    instance_uuid: str
    length: int | None = None


class ConsoleOutput(Message):
    TYPE = "compute.ConsoleOutput"

    output: str
