"""Networking (Neutron v2.0): networks, subnets, IPAM, ports, security groups,
and the per-host data plane."""
