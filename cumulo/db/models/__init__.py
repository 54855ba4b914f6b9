"""Every table of every service, registered on ``cumulo.db.base.Base.metadata``."""

from cumulo.db.models import compute, identity, image, network, volume

__all__ = ["compute", "identity", "image", "network", "volume"]
