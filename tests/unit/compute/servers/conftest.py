"""Rows the server API tests read: instances with their network, volumes, tags and groups."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import select

from cumulo.db.models.instances import Instance
from cumulo.runtime import Runtime

SERVERS = "/compute/v2.1/servers"
BASE = "http://cumulo.test/compute"


def at_time(minute: int, second: int = 0) -> datetime.datetime:
    return datetime.datetime(2024, 1, 2, 3, minute, second)


def vif(
    label: str,
    mac: str,
    *addresses: tuple[str, int],
    floating: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A VIF of ``cumulo.network.model`` as the instance's network info caches it."""
    ips: list[dict[str, Any]] = [
        {"address": address, "type": "fixed", "version": version, "floating_ips": []}
        for address, version in addresses
    ]
    if ips:
        ips[0]["floating_ips"] = [
            {"address": address, "type": "floating", "version": 4} for address in floating
        ]
    return {
        "id": f"port-{mac}",
        "address": mac,
        "type": "bridge",
        "devname": "tap" + mac.replace(":", "")[:11],
        "network": {
            "id": f"net-{label}",
            "label": label,
            "bridge": "brq",
            "mtu": 1500,
            "project_id": "p",
            "subnets": [{"id": "s", "cidr": "10.0.0.0/24", "ips": ips}],
        },
    }


async def add(runtime: Runtime, *rows: Any) -> None:
    """Insert rows (instances first, so that their ids exist for what refers to them)."""
    async with runtime.db.write() as session:
        for row in rows:
            session.add(row)
            await session.flush()


async def row(runtime: Runtime, uuid: str) -> Instance:
    async with runtime.db.read() as session:
        found = await session.scalar(select(Instance).where(Instance.uuid == uuid))
    assert found is not None
    return found
