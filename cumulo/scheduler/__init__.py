"""The scheduler (nova-scheduler + Placement): host state, filters, weighers and
atomic resource claims. Arrives with the boot pipeline."""
