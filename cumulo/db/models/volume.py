"""volumes and attachments (Cinder v3): tables."""

from __future__ import annotations
