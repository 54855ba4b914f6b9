"""Errors of instance actions that ``cumulo.compute.errors`` does not have yet.

They belong in ``cumulo/compute/errors.py``; they live here until the lead moves them.
"""

from __future__ import annotations

from cumulo.exception import Invalid, NotFound


class InstanceActionEventNotFound(NotFound):
    message = "Event %(event)s not found for action id %(action_id)s"


class ActionMarkerNotFound(Invalid):
    """Nova looks the marker up, then names the lookup's empty result: "Marker None …"."""

    message = "Marker %(marker)s could not be found."
