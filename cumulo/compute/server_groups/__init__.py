"""Server groups: sets of servers placed together or apart (``os-server-groups``)."""
