"""Project limits and usage, counted when asked (Nova's DbQuotaDriver way: no usage table).

A limit is the project's row in ``quotas`` if it has one, else the default:
``settings.compute.quota_*`` for the resources cumulo configures, Nova's
defaults for the rest. -1 means unlimited.

Usage is counted from the resources themselves. Each counter answers for
the resources it owns; ``count_instances`` is the one place that counts
servers (instances, cores, ram).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.compute.errors import KeypairLimitExceeded, TooManyInstances
from cumulo.compute.instances import holds_resources
from cumulo.compute.states import VmState
from cumulo.config import ComputeSettings
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.compute import KeyPair, Quota
from cumulo.db.models.instances import Instance, ServerGroup
from cumulo.exception import OverQuota

UNLIMITED = -1

# Nova's defaults for limits cumulo has no setting for; the network ones are
# left over from nova-network and only shown before microversion 2.36.
_FIXED_DEFAULTS = {
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "fixed_ips": UNLIMITED,
    "floating_ips": UNLIMITED,
    "security_groups": UNLIMITED,
    "security_group_rules": UNLIMITED,
}


RESOURCES = (
    "instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups",
    "server_group_members", "injected_files", "injected_file_content_bytes",
    "injected_file_path_bytes", "fixed_ips", "floating_ips", "security_groups",
    "security_group_rules",
)  # fmt: skip
"""Every compute quota resource, in the order quota sets show them."""


def default_limits(settings: ComputeSettings) -> dict[str, int]:
    return {
        "instances": settings.quota_instances,
        "cores": settings.quota_cores,
        "ram": settings.quota_ram,
        "metadata_items": settings.quota_metadata_items,
        "key_pairs": settings.quota_key_pairs,
        "server_groups": settings.quota_server_groups,
        "server_group_members": settings.quota_server_group_members,
        **_FIXED_DEFAULTS,
    }


async def project_limits(
    session: AsyncSession, settings: ComputeSettings, project_id: str | None
) -> dict[str, int]:
    """Every resource's limit for ``project_id``: its own quota rows over the defaults."""
    limits = default_limits(settings)
    rows: Iterable[Any]
    if project_id is None:
        stmt = select(Quota.resource, Quota.hard_limit).where(Quota.project_id.is_(None))
        rows = await session.execute(stmt)
    else:
        rows = await run(session, _limits_statement(), {"project_id": project_id})
    for resource, hard_limit in rows:
        if resource in limits:
            limits[resource] = hard_limit
    return limits


@functools.cache
def _limits_statement() -> Prepared:
    """``project_limits``'s query, built once (see ``instances._update_statement``)."""
    return Prepared(
        select(Quota.resource, Quota.hard_limit).where(Quota.project_id == bindparam("project_id"))
    )


async def set_limits(session: AsyncSession, project_id: str, limits: Mapping[str, int]) -> None:
    """Give ``project_id`` its own ``limits`` (inserting or replacing its rows)."""
    if not limits:
        return
    rows = await session.scalars(
        select(Quota).where(Quota.project_id == project_id, Quota.resource.in_(list(limits)))
    )
    existing = {row.resource: row for row in rows}
    for resource, hard_limit in limits.items():
        row = existing.get(resource)
        if row is None:
            session.add(Quota(project_id=project_id, resource=resource, hard_limit=hard_limit))
        else:
            row.hard_limit = hard_limit


Counter = Callable[[AsyncSession, str | None], Awaitable[dict[str, int]]]


async def count_instances(session: AsyncSession, project_id: str | None) -> dict[str, int]:
    """Servers of ``project_id`` and the vCPUs and RAM their flavors hold.

    Live instances count, ERROR ones too, as in Nova; except an instance that
    failed to be placed or whose build was aborted: it holds no host, and its
    quota was given back with its claim.

    A plain read, also on MariaDB: the create that must see every earlier create
    reads after taking the project's quota lock (``hold_row``), and InnoDB's
    snapshot begins at a transaction's first read, so it sees each create committed
    before. A locking read here held shared locks on the project's instances until
    the create committed, and a compute host updating one of them deadlocked with it.
    """
    if project_id is None:
        row = (await session.execute(_count_statement(Instance.project_id.is_(None)))).one()
    else:
        row = (await run(session, _PROJECT_COUNT, {"project_id": project_id})).one()
    return {"instances": int(row[0]), "cores": int(row[1]), "ram": int(row[2])}


def _count_statement(project: ColumnElement[bool]) -> Select[int, int, int]:
    return select(
        func.count(), func.coalesce(func.sum(Instance.vcpus), 0),
        func.coalesce(func.sum(Instance.memory_mb), 0),
    ).where(
        project,
        Instance.vm_state != VmState.SOFT_DELETED,
        holds_resources(),
    )  # fmt: skip


_PROJECT_COUNT = Prepared(_count_statement(Instance.project_id == bindparam("project_id")))
"""``count_instances``'s query of one project, built once."""


async def count_server_groups(session: AsyncSession, project_id: str | None) -> dict[str, int]:
    """Server groups of ``project_id``."""
    count = await session.scalar(
        select(func.count()).select_from(ServerGroup).where(ServerGroup.project_id == project_id)
    )
    return {"server_groups": count or 0}


# The project-wide usage shown by /limits. Per-user counts (key pairs, server
# group members) are checked where they are created and shown as 0, as Nova does.
USAGE_COUNTERS: tuple[Counter, ...] = (count_instances, count_server_groups)


async def project_usage(session: AsyncSession, project_id: str | None) -> dict[str, int]:
    usage: dict[str, int] = {}
    for counter in USAGE_COUNTERS:
        usage.update(await counter(session, project_id))
    return usage


def overs(
    limits: Mapping[str, int], usage: Mapping[str, int], deltas: Mapping[str, int]
) -> list[str]:
    """The resources that ``deltas`` more would take past their limit."""
    return sorted(
        resource
        for resource, delta in deltas.items()
        if limits[resource] != UNLIMITED and usage.get(resource, 0) + delta > limits[resource]
    )


async def check_deltas(
    session: AsyncSession,
    settings: ComputeSettings,
    project_id: str | None,
    deltas: Mapping[str, int],
) -> None:
    """Raise ``OverQuota`` (403) if the project cannot take ``deltas`` more."""
    limits = await project_limits(session, settings, project_id)
    over = overs(limits, await project_usage(session, project_id), deltas)
    if over:
        raise OverQuota(overs=", ".join(over))


async def check_key_pairs(
    session: AsyncSession,
    settings: ComputeSettings,
    project_id: str | None,
    user_id: str,
    delta: int = 1,
) -> None:
    """Key pairs count per user against the caller's project limit."""
    limit = (await project_limits(session, settings, project_id))["key_pairs"]
    count = await session.scalar(
        select(func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)
    )
    if limit != UNLIMITED and (count or 0) + delta > limit:
        raise KeypairLimitExceeded()


def fit_instances(
    limits: Mapping[str, int],
    usage: Mapping[str, int],
    vcpus: int,
    memory_mb: int,
    min_count: int,
    max_count: int,
) -> int:
    """The largest count in [min_count, max_count] of servers of ``vcpus`` and ``memory_mb``
    within the limits, else ``TooManyInstances`` (Nova's ``check_num_instances_quota``)."""
    per_instance = {"instances": 1, "cores": vcpus, "ram": memory_mb}
    fits = max_count
    for resource, each in per_instance.items():
        limit = limits[resource]
        if limit == UNLIMITED or each == 0:
            continue
        fits = min(fits, (limit - usage.get(resource, 0)) // each)
    if fits >= min_count:
        return fits
    over = next(
        r
        for r, each in per_instance.items()
        if limits[r] != UNLIMITED and usage.get(r, 0) + each * min_count > limits[r]
    )
    raise TooManyInstances(
        overs=over,
        req=per_instance[over] * min_count,
        used=usage.get(over, 0),
        allowed=limits[over],
    )
