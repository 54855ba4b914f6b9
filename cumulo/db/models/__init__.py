"""Every table of every service, registered on ``cumulo.db.base.Base.metadata``."""

from cumulo.db.models import compute, hosts, identity, image, instances, network, volume

__all__ = ["compute", "hosts", "identity", "image", "instances", "network", "volume"]
