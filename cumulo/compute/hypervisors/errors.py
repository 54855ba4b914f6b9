"""Errors of ``os-hypervisors`` that ``cumulo.compute.errors`` does not have yet.

They belong in ``cumulo/compute/errors.py`` (and ``FeatureNotSupported`` in
``cumulo/exception.py``); they live here until the lead moves them.
"""

from __future__ import annotations

from typing import ClassVar

from cumulo.exception import CumuloError, Invalid, NotFound


class FeatureNotSupported(CumuloError):
    code: ClassVar[int] = 501
    message = "The requested functionality is not supported."


class ComputeServiceUnavailable(Invalid):
    message = "Compute service of %(host)s is unavailable at this time."


class NoHypervisorMatching(NotFound):
    message = "No hypervisor matching '%(pattern)s' could be found."
