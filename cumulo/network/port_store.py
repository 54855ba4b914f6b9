"""Ports in the database: create, bind, unbind, delete, inside a caller's transaction.

Both faces use it: the Neutron HTTP API (``ports.py``) and the compute-facing
API on the bus (``allocation.py``). Addresses and MACs are picked at random and
made unique by the database's keys; ``with_retries`` runs a whole transaction
again when a concurrent writer won the same pick.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.config import NetworkSettings
from cumulo.db.base import new_uuid
from cumulo.db.engine import Database
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.network import InstanceVif, IPAllocation, Network, Port
from cumulo.network import fixed_ips, ipam, quotas, secgroups
from cumulo.network.errors import MacAddressInUse, PortSecurityAndIPRequiredForSecurityGroups

T = TypeVar("T")
ATTEMPTS = 60
GUEST_OWNER = "compute:"
"""The ``device_owner`` prefix of a port a guest's NIC uses (``compute:<zone>``)."""
BOUND_VIF_TYPE = "bridge"
"""What a bound port plugs into: the per-host Linux bridge of its network."""


async def with_retries(db: Database, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in a write transaction, again when a concurrent writer took our pick.

    The unique keys on addresses and MACs are what make allocation safe; a
    violation (or a deadlock the engine broke) only means another transaction
    won the same random choice.
    """
    for attempt in range(ATTEMPTS):
        try:
            async with db.write() as session:
                return await work(session)
        except (IntegrityError, OperationalError):
            if attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
    raise AssertionError("unreachable")


async def check_mac(session: AsyncSession, net_id: str, mac: str) -> None:
    if await session.scalar(select(Port.id).where(Port.mac_address == mac)) is not None:
        raise MacAddressInUse(net_id=net_id, mac=mac)


async def check_groups(
    session: AsyncSession, project_id: str, cols: dict[str, Any], in_project: bool = False
) -> None:
    """Groups need port security; each must be one of the project's (unless the caller
    found them there: ``in_project``)."""
    groups = cols["security_groups"]
    if groups and not cols["port_security_enabled"]:
        raise PortSecurityAndIPRequiredForSecurityGroups()
    if not in_project:
        await secgroups.check_groups(session, project_id, groups)


async def ips_of(session: AsyncSession, port_ids: list[str]) -> dict[str, list[IPAllocation]]:
    rows = await session.scalars(select(IPAllocation).where(IPAllocation.port_id.in_(port_ids)))
    found: dict[str, list[IPAllocation]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.subnet_id, r.ip_address)):
        found[row.port_id].append(row)
    return found


async def create(
    session: AsyncSession,
    settings: NetworkSettings,
    net: Network,
    project_id: str,
    cols: dict[str, Any],
    requested_ips: list[Any] | None,
    groups_checked: bool = False,
) -> tuple[PortRow, list[IPAllocation]]:
    """A new port on ``net`` with column values ``cols``, its MAC and addresses.

    ``cols`` may name ``mac_address`` and must hold ``security_groups`` (ids of
    ``project_id``'s groups; ``groups_checked`` when the caller found them among
    the project's). Raises ``OverQuota`` past the project's port quota.
    """
    await quotas.check_quota(session, settings, project_id, "port")
    cols = dict(cols)
    cols["network_id"] = net.id
    mac = cols.pop("mac_address", None)
    if mac is not None:
        await check_mac(session, net.id, mac)
    cols.setdefault("port_security_enabled", net.port_security_enabled)
    await check_groups(session, project_id, cols, groups_checked)
    port_id = new_uuid()
    values = {"id": port_id, "project_id": project_id, "mac_address": mac or ipam.new_mac()}
    await run(session, _INSERT, cols | values)
    ips = await fixed_ips.allocate(session, net.id, port_id, requested_ips)
    return (await run(session, _BY_ID, {"id": port_id})).one(), ips


PortRow = Any
"""A row of ``ports`` read on the fast path (``cumulo.db.fastpath``): ``Port``'s columns
by name, not an ORM object (the session does not hold a port ``create`` made)."""

_INSERT = Prepared(insert(Port))
_BY_ID = Prepared(select(Port).where(Port.id == bindparam("id")))


def binding(device_id: str, device_owner: str, host: str) -> dict[str, str]:
    """The columns of a port attached to a device on ``host``."""
    return {
        "device_id": device_id,
        "device_owner": device_owner,
        "host_id": host,
        "vif_type": BOUND_VIF_TYPE if host else "unbound",
    }


def bind(row: Port, device_id: str, device_owner: str, host: str) -> None:
    """Attach ``row`` to a device on ``host`` (Nova's port update at boot)."""
    for column, value in binding(device_id, device_owner, host).items():
        setattr(row, column, value)
    row.revision_number += 1


def unbind(row: Port) -> None:
    """Detach ``row`` from its device, keeping the port and its addresses."""
    bind(row, "", "", "")


async def remove(session: AsyncSession, row: Port) -> None:
    """Delete ``row``, its addresses, and any record of it on an instance."""
    await session.execute(delete(IPAllocation).where(IPAllocation.port_id == row.id))
    await session.execute(delete(InstanceVif).where(InstanceVif.port_id == row.id))
    await session.delete(row)
