"""Effective roles: what a user holds on a target, implied roles included.

``admin`` implies ``member`` implies ``reader``: a token scoped where the user
was granted ``admin`` carries all three. The implication graph is a handful of
rows that only bootstrap writes; each process reads it whole, keeps it for
``token_cache_seconds`` and walks it breadth first, so working out a token's
roles costs no query beyond the one that finds the direct grants.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.models.identity import ImpliedRole, Role, RoleAssignment

PROJECT = "project"
DOMAIN = "domain"
ADMIN_ROLE = "admin"


class RoleRef(NamedTuple):
    id: str
    name: str


class EffectiveRole(NamedTuple):
    """A role held on a target; ``prior_id`` names the role that implied it, if any."""

    role: RoleRef
    prior_id: str | None


Graph = dict[str, list[RoleRef]]


async def implied_graph(session: AsyncSession) -> Graph:
    """prior role id → the roles it directly implies."""
    rows = await session.execute(
        select(ImpliedRole.prior_role_id, Role.id, Role.name).join(
            Role, Role.id == ImpliedRole.implied_role_id
        )
    )
    graph: Graph = defaultdict(list)
    for prior, role_id, name in rows:
        graph[prior].append(RoleRef(role_id, name))
    return dict(graph)


class ImpliedRoles:
    """The implication graph, read at most once per ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._graph: Graph | None = None
        self._deadline = 0.0

    async def graph(self, session: AsyncSession) -> Graph:
        if self._graph is None or time.monotonic() >= self._deadline:
            self._graph = await implied_graph(session)
            self._deadline = time.monotonic() + self.seconds
        return self._graph

    def invalidate(self) -> None:
        self._graph = None


def expand(direct: list[RoleRef], graph: Graph) -> list[EffectiveRole]:
    """``direct`` and everything they imply, each once, in breadth-first order."""
    seen = {r.id for r in direct}
    result = [EffectiveRole(r, None) for r in direct]
    queue = list(direct)
    while queue:
        prior = queue.pop(0)
        for implied in graph.get(prior.id, ()):
            if implied.id not in seen:
                seen.add(implied.id)
                result.append(EffectiveRole(implied, prior.id))
                queue.append(implied)
    return result


def expand_roles(direct: list[RoleRef], graph: Graph) -> list[RoleRef]:
    return [e.role for e in expand(direct, graph)]


async def granted_roles(
    session: AsyncSession, user_id: str, target_type: str, target_id: str
) -> list[Role]:
    """The roles granted directly (not implied) to the user on the target, by name."""
    rows = await session.scalars(
        select(Role)
        .join(RoleAssignment, RoleAssignment.role_id == Role.id)
        .where(
            RoleAssignment.actor_id == user_id,
            RoleAssignment.target_type == target_type,
            RoleAssignment.target_id == target_id,
        )
        .order_by(Role.name)
    )
    return list(rows)


async def direct_roles(
    session: AsyncSession, user_id: str, target_type: str, target_id: str
) -> list[RoleRef]:
    roles = await granted_roles(session, user_id, target_type, target_id)
    return [RoleRef(role.id, role.name) for role in roles]


async def system_grant(session: AsyncSession, user_id: str) -> list[RoleRef]:
    """The grant behind a system-scoped token: only users granted ``admin`` somewhere."""
    row = (
        await session.execute(
            select(Role.id, Role.name)
            .join(RoleAssignment, RoleAssignment.role_id == Role.id)
            .where(RoleAssignment.actor_id == user_id, Role.name == ADMIN_ROLE)
            .limit(1)
        )
    ).first()
    return [RoleRef(row[0], row[1])] if row else []


async def scope_roles(
    session: AsyncSession,
    implied: ImpliedRoles,
    user_id: str,
    project_id: str | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> list[RoleRef]:
    """The roles a token with this scope carries (empty when unscoped or not granted)."""
    if project_id:
        direct = await direct_roles(session, user_id, PROJECT, project_id)
    elif domain_id:
        direct = await direct_roles(session, user_id, DOMAIN, domain_id)
    elif system:
        direct = await system_grant(session, user_id)
    else:
        return []
    if not direct:
        return []
    return expand_roles(direct, await implied.graph(session))
