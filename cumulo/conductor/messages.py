"""What the conductor accepts on the bus (topic ``conductor``)."""

from __future__ import annotations

from cumulo.network.messages import RequestedNetworks
from cumulo.rpc.messages import Message
from cumulo.scheduler.messages import Selection
from cumulo.scheduler.request_spec import RequestSpec


class BuildInstances(Message):
    """Schedule and dispatch new instances, or reschedule one on its remaining alternates.

    From the API ``host_lists`` is None and the scheduler is asked; from a
    compute host that gave up on a build it holds that instance's
    alternates and ``num_attempts`` counts the hosts tried so far.
    """

    TYPE = "conductor.BuildInstances"

    instance_uuids: list[str]
    request_spec: RequestSpec
    requested_networks: RequestedNetworks = None
    security_groups: list[str] = []
    admin_password: str | None = None
    host_lists: list[list[Selection]] | None = None
    num_attempts: int = 0
    reason: str = ""
    """Why the previous host gave up (a reschedule's fault message if no alternate is left)."""
