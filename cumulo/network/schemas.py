"""Request bodies: which attributes each resource takes, converted as Neutron does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cumulo import exception
from cumulo.network.errors import InvalidInput

Convert = Callable[[str, Any], Any]


def to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise InvalidInput(error_message=f"'{value}' cannot be converted to boolean")


def to_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(error_message=f"'{value}' is not a valid string")
    if len(value) > 255:
        raise InvalidInput(error_message=f"'{value}' exceeds maximum length of 255")
    return value


def to_opt_str(name: str, value: Any) -> str | None:
    return None if value is None else to_str(name, value)


def to_int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(error_message=f"'{value}' is not an integer") from None


def to_opt_int(name: str, value: Any) -> int | None:
    return None if value is None else to_int(name, value)


def to_list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(error_message=f"'{value}' is not a list")
    return value


def to_str_list(name: str, value: Any) -> list[str]:
    return [to_str(name, v) for v in to_list(name, value)]


def to_any(name: str, value: Any) -> Any:
    return value


# name -> (converter, updatable)
COMMON: dict[str, tuple[Convert, bool]] = {
    "name": (to_str, True),
    "description": (to_str, True),
    "tenant_id": (to_str, False),
    "project_id": (to_str, False),
    "tags": (to_str_list, True),
}
NETWORK = COMMON | {
    "admin_state_up": (to_bool, True),
    "shared": (to_bool, True),
    "router:external": (to_bool, True),
    "mtu": (to_int, True),
    "port_security_enabled": (to_bool, True),
    "provider:network_type": (to_str, False),
    "provider:physical_network": (to_opt_str, False),
    "provider:segmentation_id": (to_opt_int, False),
    "availability_zone_hints": (to_list, False),
}
SUBNET = COMMON | {
    "network_id": (to_str, False),
    "ip_version": (to_int, False),
    "cidr": (to_str, False),
    "gateway_ip": (to_opt_str, True),
    "allocation_pools": (to_list, True),
    "enable_dhcp": (to_bool, True),
    "dns_nameservers": (to_str_list, True),
    "host_routes": (to_list, True),
    "ipv6_ra_mode": (to_opt_str, False),
    "ipv6_address_mode": (to_opt_str, False),
    "subnetpool_id": (to_opt_str, False),
}
PORT = COMMON | {
    "network_id": (to_str, False),
    "mac_address": (to_str, True),
    "admin_state_up": (to_bool, True),
    "device_id": (to_str, True),
    "device_owner": (to_str, True),
    "fixed_ips": (to_list, True),
    "security_groups": (to_str_list, True),
    "port_security_enabled": (to_bool, True),
    "allowed_address_pairs": (to_list, True),
    "extra_dhcp_opts": (to_list, True),
    "binding:host_id": (to_str, True),
    "binding:vnic_type": (to_str, True),
    "binding:profile": (to_any, True),
}


def parse(
    data: Any, resource: str, spec: dict[str, tuple[Convert, bool]], update: bool
) -> dict[str, Any]:
    """The converted attributes of ``{resource: {...}}``; 400 for unknown or read-only ones."""
    if not isinstance(data, dict) or not isinstance(data.get(resource), dict):
        raise exception.Invalid(f"Unable to find '{resource}' in request body")
    body = data[resource]
    unknown = sorted(k for k in body if k not in spec)
    if unknown:
        raise exception.Invalid(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    result: dict[str, Any] = {}
    for key, value in body.items():
        convert, updatable = spec[key]
        if update and not updatable:
            raise exception.Invalid(f"Cannot update read-only attribute {key}")
        try:
            result[key] = convert(key, value)
        except InvalidInput as exc:
            raise InvalidInput(
                error_message=f"Invalid input for {key}. Reason: {exc.kwargs['error_message']}"
            ) from None
    return result


def to_opt_dict(name: str, value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise InvalidInput(error_message=f"'{value}' is not a dictionary")
    return value


ROUTER = COMMON | {
    "admin_state_up": (to_bool, True),
    "external_gateway_info": (to_opt_dict, True),
    "routes": (to_list, True),
    "availability_zone_hints": (to_list, False),
}
FLOATINGIP = {name: spec for name, spec in COMMON.items() if name != "name"} | {
    "floating_network_id": (to_str, False),
    "floating_ip_address": (to_str, False),
    "subnet_id": (to_str, False),
    "port_id": (to_opt_str, True),
    "fixed_ip_address": (to_opt_str, True),
}
