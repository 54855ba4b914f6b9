"""Volumes (Cinder v3): volumes, attachments, boot from volume."""
