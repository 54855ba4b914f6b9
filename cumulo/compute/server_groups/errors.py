"""Errors of ``os-server-groups`` that ``cumulo.compute.errors`` does not have yet.

They belong in ``cumulo/compute/errors.py``; they live here until the lead moves them.
"""

from __future__ import annotations

from cumulo.exception import Invalid, OverQuota


class ServerGroupLimitExceeded(OverQuota):
    message = "Quota exceeded, too many server groups."


class RulesNotSupported(Invalid):
    message = "Only anti-affinity policy supports rules."
