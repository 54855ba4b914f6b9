"""Security groups: each project's ``default`` group, made on first use."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.context import RequestContext
from cumulo.db.base import new_uuid
from cumulo.db.engine import Database
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.network import DefaultSecurityGroup, SecurityGroup, SecurityGroupRule
from cumulo.network.errors import SecurityGroupNotFound
from cumulo.network.views import when


async def ensure_default(db: Database, project_id: str) -> str:
    """The id of ``project_id``'s default group, created with its four rules if missing.

    The primary key of ``default_security_groups`` settles concurrent first uses:
    the loser's transaction rolls back and it reads the winner's group.
    """
    async with db.read() as session:
        found = await _default_of(session, project_id)
        if found is not None:
            return found
    try:
        async with db.write() as session:
            group_id = await _create_default(session, project_id)
    except IntegrityError:
        async with db.read() as session:
            found = await _default_of(session, project_id)
            assert found is not None
            return found
    return group_id


async def default_group(session: AsyncSession, project_id: str) -> str:
    """``ensure_default`` in the caller's write transaction: when a concurrent first use
    wins, the flush raises ``IntegrityError`` and the caller runs its transaction again
    (``port_store.with_retries``)."""
    found = await _default_of(session, project_id)
    return found if found is not None else await _create_default(session, project_id)


async def _default_of(session: AsyncSession, project_id: str) -> str | None:
    return (await run(session, _DEFAULT_OF, {"project_id": project_id})).scalar()


_DEFAULT_OF = Prepared(
    select(DefaultSecurityGroup.security_group_id).where(
        DefaultSecurityGroup.project_id == bindparam("project_id")
    )
)


async def _create_default(session: AsyncSession, project_id: str) -> str:
    group_id = new_uuid()
    session.add(
        SecurityGroup(
            id=group_id,
            project_id=project_id,
            name="default",
            description="Default security group",
        )
    )
    await session.flush()
    session.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group_id))
    for ethertype in ("IPv4", "IPv6"):
        common = {"project_id": project_id, "security_group_id": group_id, "ethertype": ethertype}
        session.add(SecurityGroupRule(direction="egress", **common))
        session.add(SecurityGroupRule(direction="ingress", remote_group_id=group_id, **common))
    await session.flush()
    return group_id


def group_filter(ctx: RequestContext) -> Any:
    return True if ctx.is_admin else SecurityGroup.project_id == ctx.project_id


async def get_group(session: AsyncSession, ctx: RequestContext, group_id: str) -> SecurityGroup:
    row = await session.scalar(
        select(SecurityGroup).where(SecurityGroup.id == group_id, group_filter(ctx))
    )
    if row is None:
        raise SecurityGroupNotFound(id=group_id)
    return row


async def check_groups(session: AsyncSession, project_id: str, ids: list[str]) -> None:
    """Every id names a group of ``project_id`` (what a port may use)."""
    for group_id in ids:
        owner = await session.scalar(
            select(SecurityGroup.project_id).where(SecurityGroup.id == group_id)
        )
        if owner != project_id:
            raise SecurityGroupNotFound(id=group_id)


RULE_ATTRIBUTES = frozenset(
    (
        "id tenant_id project_id security_group_id direction ethertype protocol port_range_min "
        "port_range_max remote_ip_prefix remote_group_id remote_address_group_id "
        "normalized_cidr description created_at updated_at revision_number"
    ).split()
)
GROUP_ATTRIBUTES = frozenset(
    (
        "id name description tenant_id project_id stateful shared tags "
        "security_group_rules created_at updated_at revision_number"
    ).split()
)


def rule_view(row: SecurityGroupRule) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "security_group_id": row.security_group_id,
        "direction": row.direction,
        "ethertype": row.ethertype,
        "protocol": row.protocol,
        "port_range_min": row.port_range_min,
        "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix,
        "remote_group_id": row.remote_group_id,
        "remote_address_group_id": None,
        "normalized_cidr": row.remote_ip_prefix,
        "description": row.description,
        "created_at": when(row.created_at),
        "updated_at": when(row.updated_at or row.created_at),
        "revision_number": row.revision_number,
    }


def group_view(row: SecurityGroup, rules: list[SecurityGroupRule]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "stateful": row.stateful,
        "shared": False,
        "tags": list(row.tags),
        "security_group_rules": [rule_view(r) for r in rules],
        "created_at": when(row.created_at),
        "updated_at": when(row.updated_at or row.created_at),
        "revision_number": row.revision_number,
    }
