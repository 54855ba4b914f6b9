"""Instance actions: what was done to a server, step by step (``os-instance-actions``)."""
