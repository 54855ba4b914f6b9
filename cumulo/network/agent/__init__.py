"""The per-host data plane of the network service: what runs on each compute host to give
ports their packets. It plumbs bridges, taps, VXLAN tunnels and namespace ports
(``linux_net``), serves DHCP, enforces security groups as firewall rules, answers metadata
requests and routes between networks; nothing else lives here.
"""
