"""The conductor (nova-conductor): the build workflow between API, scheduler and
compute hosts: schedule, claim, dispatch, reschedule. Arrives with the boot pipeline."""
