"""images (Glance v2): tables."""

from __future__ import annotations
