"""What a boot asked for, resolved in the database: the NICs' ports, networks, security groups.

The checks, their order and their errors follow ``nova/network/neutron.py``
(``_validate_requested_port_ids``, ``_validate_requested_network_ids``,
``_process_security_groups``, ``_create_ports_for_instance``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.api import policy
from cumulo.context import RequestContext
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.network import IPAllocation, Network, Port, SecurityGroup, Subnet
from cumulo.network import access
from cumulo.network.compute_errors import (
    ExternalNetworkAttachForbidden,
    NetworkAmbiguous,
    NetworkNotFound,
    NoUniqueMatch,
    PortInUse,
    PortNotFound,
    PortNotUsable,
    PortRequiresFixedIP,
    SecurityGroupCannotBeApplied,
    SecurityGroupNotFound,
    UnableToAutoAllocateNetwork,
)
from cumulo.network.messages import InstanceRef, NetworkRequest, RequestedNetworks

NetworkRow = Any
"""A row of ``networks`` read on the fast path (``cumulo.db.fastpath``): ``Network``'s
columns by name, not an ORM object."""


@dataclass
class Nic:
    """One NIC to set up: what was asked, its network, and the user's port if one was named."""

    request: NetworkRequest
    network: NetworkRow
    port: Port | None = None


def unspecified(requested: RequestedNetworks) -> bool:
    """No network named: ``None`` (before 2.37), an empty list, or ``"auto"``."""
    return requested is None or requested == "auto" or requested == []


async def available_networks(
    session: AsyncSession, project_id: str, auto: bool
) -> list[NetworkRow]:
    """The networks a boot that names none may use: the project's own unshared ones, then shared.

    Like Nova, ``"auto"`` only takes networks that are administratively up.
    """
    own = await run(session, _OWN_UP if auto else _OWN, {"project_id": project_id})
    return [*own, *await run(session, _SHARED)]


_ORDER = (Network.created_at, Network.id)
_OWN = Prepared(
    select(Network)
    .where(Network.project_id == bindparam("project_id"), Network.shared.is_(False))
    .order_by(*_ORDER)
)
_OWN_UP = Prepared(
    select(Network)
    .where(
        Network.project_id == bindparam("project_id"),
        Network.shared.is_(False),
        Network.admin_state_up.is_(True),
    )
    .order_by(*_ORDER)
)
_SHARED = Prepared(select(Network).where(Network.shared.is_(True)).order_by(*_ORDER))


async def the_one_network(
    session: AsyncSession, project_id: str, requested: RequestedNetworks
) -> NetworkRow | None:
    """The network an unspecified request means; ``None`` when there is none (and not ``auto``).

    Nova would create one with Neutron's auto-allocated topology for ``"auto"``;
    cumulo has no such extension, so ``"auto"`` without a network is an error.
    """
    nets = await available_networks(session, project_id, auto=requested == "auto")
    if len(nets) > 1:
        raise NetworkAmbiguous()
    if not nets:
        if requested == "auto":
            raise UnableToAutoAllocateNetwork(project_id=project_id)
        return None
    return nets[0]


async def requested_port(session: AsyncSession, ctx: RequestContext, port_id: str) -> Port:
    row = await session.scalar(select(Port).where(Port.id == port_id, access.port_filter(ctx)))
    if row is None:
        raise PortNotFound(port_id=port_id)
    return row


async def requested_network(session: AsyncSession, ctx: RequestContext, net_id: str) -> NetworkRow:
    if ctx.is_admin:
        row = await network(session, net_id)
    else:
        params = {"net_id": net_id, "project_id": ctx.project_id}
        row = (await run(session, _VISIBLE_NETWORK, params)).first()
    if row is None:
        raise NetworkNotFound(network_id=net_id)
    return row


async def network(session: AsyncSession, net_id: str) -> NetworkRow | None:
    return (await run(session, _NETWORK, {"net_id": net_id})).first()


_NETWORK = Prepared(select(Network).where(Network.id == bindparam("net_id")))
_VISIBLE_NETWORK = Prepared(
    select(Network).where(
        Network.id == bindparam("net_id"), access.visible_network(bindparam("project_id"))
    )
)


async def has_fixed_ip(session: AsyncSession, port_id: str) -> bool:
    stmt = select(IPAllocation.ip_address).where(IPAllocation.port_id == port_id).limit(1)
    return await session.scalar(stmt) is not None


async def subnet_counts(session: AsyncSession, net_ids: Sequence[str]) -> dict[str, int]:
    if len(net_ids) == 1:
        rows: Iterable[Any] = await run(session, _SUBNET_COUNT, {"net_id": net_ids[0]})
    else:
        stmt = (
            select(Subnet.network_id, func.count())
            .where(Subnet.network_id.in_(net_ids))
            .group_by(Subnet.network_id)
        )
        rows = await session.execute(stmt)
    return {net_id: int(count) for net_id, count in rows}


_SUBNET_COUNT = Prepared(
    select(Subnet.network_id, func.count())
    .where(Subnet.network_id == bindparam("net_id"))
    .group_by(Subnet.network_id)
)
"""``subnet_counts`` of the one network most servers ask for, built once."""


async def _port_nic(
    session: AsyncSession,
    ctx: RequestContext,
    instance: InstanceRef,
    request: NetworkRequest,
    host: str,
) -> Nic:
    """The user's port: theirs, free, not bound elsewhere, with an address."""
    assert request.port_id is not None
    port = await requested_port(session, ctx, request.port_id)
    if port.project_id != instance.project_id or (port.host_id and port.host_id != host):
        raise PortNotUsable(port_id=port.id, instance=instance.uuid)
    if port.device_id:
        raise PortInUse(port_id=port.id)
    if not await has_fixed_ip(session, port.id):
        raise PortRequiresFixedIP(port_id=port.id)
    net = await network(session, port.network_id)
    assert net is not None
    return Nic(request.model_copy(update={"network_id": net.id}), net, port)


async def resolve(
    session: AsyncSession,
    ctx: RequestContext,
    instance: InstanceRef,
    requested: RequestedNetworks,
    host: str,
) -> list[Nic]:
    """The NICs ``requested`` means on ``host``, in order, each checked as Nova checks it."""
    if requested == "none":
        return []
    if unspecified(requested):
        net = await the_one_network(session, instance.project_id, requested)
        nics = [] if net is None else [Nic(NetworkRequest(network_id=net.id), net)]
    else:
        assert isinstance(requested, list)
        nics = []
        for request in requested:
            if request.port_id:
                nics.append(await _port_nic(session, ctx, instance, request, host))
            elif request.network_id:
                net = await requested_network(session, ctx, request.network_id)
                nics.append(Nic(request, net))
            else:
                raise exception.Invalid("Bad network format: missing 'uuid'")
    check_external(ctx, [nic.network for nic in nics])
    return nics


def check_external(ctx: RequestContext, nets: Sequence[NetworkRow]) -> None:
    """Only those the policy allows (admins) attach to an external network that is not shared."""
    if policy.check(ctx, "compute:network:attach_external_network"):
        return
    for net in nets:
        if net.external and not net.shared:
            raise ExternalNetworkAttachForbidden(network_uuid=net.id)


async def security_group_ids(
    session: AsyncSession, project_id: str, requested: Sequence[str]
) -> list[str]:
    """The ids of the project's groups ``requested`` names, by name first, else by id.

    ``["default"]`` alone means the port's default, as in Nova, and yields no ids.
    """
    if list(requested) in ([], ["default"]):
        return []
    groups = list(
        await session.scalars(select(SecurityGroup).where(SecurityGroup.project_id == project_id))
    )
    ids: list[str] = []
    for wanted in requested:
        by_name = [g.id for g in groups if g.name == wanted]
        if len(by_name) > 1:
            raise NoUniqueMatch(
                f"Multiple security groups found matching '{wanted}'. "
                "Use an ID to be more specific."
            )
        found = by_name or [g.id for g in groups if g.id == wanted]
        if not found:
            raise SecurityGroupNotFound(security_group_id=wanted)
        if found[0] not in ids:
            ids.append(found[0])
    return ids


def check_port_security(nic: Nic, subnets: int, group_ids: Sequence[str]) -> None:
    """Security groups need port security, and port security needs an address to filter on."""
    if nic.network.port_security_enabled:
        if not subnets:
            raise SecurityGroupCannotBeApplied()
    elif group_ids:
        raise SecurityGroupCannotBeApplied()
    if nic.port is not None and not nic.port.port_security_enabled and group_ids:
        raise SecurityGroupCannotBeApplied()
