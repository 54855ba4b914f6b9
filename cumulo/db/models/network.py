"""networks, subnets, ports, security groups (Neutron v2.0): tables."""

from __future__ import annotations
