"""Hypervisors: the compute nodes as an admin sees them (``os-hypervisors``)."""
