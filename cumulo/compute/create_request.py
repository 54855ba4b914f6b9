"""A server create as the HTTP layer hands it to ``compute.api.API.create``, and the small
rules that turn the request's words into it: the availability zone string, the host
name a server gets from its display name, the admin password made when none is given.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from cumulo.api import policy
from cumulo.compute.block_device import BlockDevice
from cumulo.context import RequestContext
from cumulo.exception import InvalidInput
from cumulo.network.messages import RequestedNetworks

_HOSTNAME_BAD = re.compile(r"[^\w.-]+")


@dataclass
class CreateRequest:
    """A server create, as the HTTP layer parsed it."""

    name: str
    flavor_id: str
    image_href: str = ""
    min_count: int = 1
    max_count: int = 1
    requested_networks: RequestedNetworks = None
    key_name: str | None = None
    security_groups: list[str] = field(default_factory=list)
    user_data: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    availability_zone: str | None = None
    forced_host: str | None = None
    forced_node: str | None = None
    block_devices: list[BlockDevice] = field(default_factory=list)
    scheduler_hints: dict[str, Any] = field(default_factory=dict)
    config_drive: bool = False
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    hostname: str | None = None
    admin_password: str | None = None
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    auto_disk_config: bool = False


def generate_password(length: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def sanitize_hostname(name: str) -> str:
    """Nova's ``utils.sanitize_hostname``: lower case, dashes, at most 63 characters."""
    hostname = re.sub(r"[ _]", "-", name.lower())
    hostname = _HOSTNAME_BAD.sub("", hostname)
    return hostname[:63].strip("-.")


def parse_availability_zone(
    ctx: RequestContext, value: str | None
) -> tuple[str | None, str | None, str | None]:
    """``az``, ``az:host``, ``az::node``, ``az:host:node`` (host forcing is for admins)."""
    if not value or ":" not in value:
        return value or None, None, None
    parts = value.split(":")
    if len(parts) > 3:
        raise InvalidInput(reason="Unable to parse availability_zone")
    zone, host = parts[0] or None, parts[1] or None
    node = parts[2] or None if len(parts) == 3 else None
    if host or node:
        policy.enforce(ctx, "compute:servers:create:forced_host", {"project_id": ctx.project_id})
    return zone, host, node
