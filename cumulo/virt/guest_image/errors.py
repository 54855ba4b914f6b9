"""What the guest image builder raises."""

from __future__ import annotations

from cumulo.exception import CumuloError


class GuestImageError(CumuloError):
    """A build step failed; the message names the step and what to do about it."""

    message = "Building the guest image failed: %(reason)s"
