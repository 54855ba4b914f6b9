"""Rows rendered as Neutron renders its resources."""

from __future__ import annotations

import datetime
from typing import Any

from cumulo.context import RequestContext
from cumulo.db.models.network import FloatingIP, IPAllocation, Network, Port, Router, Subnet

COMMON = frozenset(
    ("id name tenant_id project_id description tags created_at updated_at revision_number").split()
)
NETWORK = COMMON | {
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "status",
    "subnets",
    "port_security_enabled",
    "availability_zone_hints",
    "availability_zones",
    "ipv4_address_scope",
    "ipv6_address_scope",
    "qos_policy_id",
    "l2_adjacency",
    "is_default",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
}
SUBNET = COMMON | {
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "enable_dhcp",
    "dns_nameservers",
    "host_routes",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "subnetpool_id",
    "service_types",
}
PORT = COMMON | {
    "network_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
    "fixed_ips",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "extra_dhcp_opts",
    "binding:vnic_type",
    "ip_allocation",
    "qos_policy_id",
    "binding:host_id",
    "binding:vif_type",
    "binding:vif_details",
    "binding:profile",
}
"""Each resource's attributes (as an admin sees them): what a list may filter on."""


def when(value: datetime.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _standard(row: Network | Subnet | Port | Router | FloatingIP) -> dict[str, Any]:
    """The attributes every resource has (a floating IP has no name)."""
    return {
        "id": row.id,
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "description": row.description,
        "tags": list(row.tags),
        "created_at": when(row.created_at),
        "updated_at": when(row.updated_at or row.created_at),
        "revision_number": row.revision_number,
    }


def _common(row: Network | Subnet | Port | Router) -> dict[str, Any]:
    return _standard(row) | {"name": row.name}


def network(row: Network, subnet_ids: list[str], ctx: RequestContext) -> dict[str, Any]:
    body = _common(row) | {
        "admin_state_up": row.admin_state_up,
        "shared": row.shared,
        "router:external": row.external,
        "mtu": row.mtu,
        "status": row.status,
        "subnets": sorted(subnet_ids),
        "port_security_enabled": row.port_security_enabled,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "qos_policy_id": None,
        "l2_adjacency": True,
        "is_default": False,
    }
    if ctx.is_admin:
        body["provider:network_type"] = row.network_type
        body["provider:physical_network"] = row.physical_network
        body["provider:segmentation_id"] = row.segmentation_id
    return body


def subnet(row: Subnet) -> dict[str, Any]:
    return _common(row) | {
        "network_id": row.network_id,
        "ip_version": row.ip_version,
        "cidr": row.cidr,
        "gateway_ip": row.gateway_ip,
        "allocation_pools": list(row.allocation_pools),
        "enable_dhcp": row.enable_dhcp,
        "dns_nameservers": list(row.dns_nameservers),
        "host_routes": list(row.host_routes),
        "ipv6_ra_mode": row.ipv6_ra_mode,
        "ipv6_address_mode": row.ipv6_address_mode,
        "subnetpool_id": None,
        "service_types": [],
    }


def port(row: Port, ips: list[IPAllocation], ctx: RequestContext) -> dict[str, Any]:
    body = _common(row) | {
        "network_id": row.network_id,
        "mac_address": row.mac_address,
        "admin_state_up": row.admin_state_up,
        "status": row.status,
        "device_id": row.device_id,
        "device_owner": row.device_owner,
        "fixed_ips": [{"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in ips],
        "security_groups": list(row.security_groups),
        "port_security_enabled": row.port_security_enabled,
        "allowed_address_pairs": list(row.allowed_address_pairs),
        "extra_dhcp_opts": list(row.extra_dhcp_opts),
        "binding:vnic_type": row.vnic_type,
        "ip_allocation": "immediate",
        "qos_policy_id": None,
    }
    if ctx.is_admin:
        body["binding:host_id"] = row.host_id
        body["binding:vif_type"] = row.vif_type
        body["binding:vif_details"] = {}
        body["binding:profile"] = {}
    return body


ROUTER = COMMON | {"admin_state_up", "status", "external_gateway_info", "routes"}
FLOATINGIP = (COMMON - {"name"}) | {
    "floating_network_id",
    "floating_ip_address",
    "router_id",
    "port_id",
    "fixed_ip_address",
    "status",
}


def gateway_info(row: Router, gateway_ips: list[IPAllocation]) -> dict[str, Any] | None:
    if row.external_network_id is None:
        return None
    return {
        "network_id": row.external_network_id,
        "enable_snat": row.enable_snat,
        "external_fixed_ips": [
            {"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in gateway_ips
        ],
    }


def router(row: Router, gateway_ips: list[IPAllocation]) -> dict[str, Any]:
    return _common(row) | {
        "admin_state_up": row.admin_state_up,
        "status": row.status,
        "external_gateway_info": gateway_info(row, gateway_ips),
        "routes": list(row.routes),
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "flavor_id": None,
    }


def floatingip(row: FloatingIP, fixed_port: Port | None) -> dict[str, Any]:
    body = _standard(row) | {
        "floating_network_id": row.floating_network_id,
        "floating_ip_address": row.floating_ip_address,
        "router_id": row.router_id,
        "port_id": row.fixed_port_id,
        "fixed_ip_address": row.fixed_ip_address,
        "status": row.status,
        "qos_policy_id": None,
        "port_forwardings": [],
        "port_details": None,
    }
    if fixed_port is not None:
        body["port_details"] = {
            "name": fixed_port.name,
            "network_id": fixed_port.network_id,
            "mac_address": fixed_port.mac_address,
            "admin_state_up": fixed_port.admin_state_up,
            "status": fixed_port.status,
            "device_id": fixed_port.device_id,
            "device_owner": fixed_port.device_owner,
        }
    return body
