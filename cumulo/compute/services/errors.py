"""Errors of ``os-services`` that ``cumulo.compute.errors`` does not have yet.

They belong in ``cumulo/compute/errors.py``; they live here until the lead moves them.
"""

from __future__ import annotations

from cumulo.exception import Conflict, Invalid, NotFound


class HostBinaryNotFound(NotFound):
    message = "Could not find binary %(binary)s on host %(host)s."


class ServiceUpdateNotSupported(Invalid):
    message = (
        "Updating a %(binary)s service is not supported. Only nova-compute services can be updated."
    )


class ServiceHostingInstances(Conflict):
    message = (
        "Unable to delete compute service that is hosting instances. Migrate or delete the "
        "instances first."
    )
