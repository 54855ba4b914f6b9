"""What a driver raises, and whether the compute manager may retry the build elsewhere."""

from __future__ import annotations

from cumulo.exception import CumuloError


class VirtError(CumuloError):
    """A driver failure another host might not have: the build is rescheduled."""

    message = "The hypervisor failed: %(reason)s"


class FatalVirtError(VirtError):
    """A failure no other host would avoid (a bad image, a bad disk): the build is aborted."""


class InstanceNotFoundInDriver(CumuloError):
    code = 404
    message = "Instance %(instance_id)s could not be found on the hypervisor."
