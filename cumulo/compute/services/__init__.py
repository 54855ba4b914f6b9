"""Services: the compute service processes, their heartbeats and their state (``os-services``)."""
