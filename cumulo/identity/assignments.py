"""Role assignments: granting, checking and revoking a role, and ``/v3/role_assignments``.

A listing entry is an ``Assignment``; with ``effective`` each direct grant is
followed by the roles it implies (``prior_id`` names the role that implied
it), as Keystone expands them. ``include_names`` adds names in one batch of
lookups, not one per entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.db.models.identity import Domain, Project, Role, RoleAssignment, User
from cumulo.identity.errors import RoleAssignmentNotFound
from cumulo.identity.manager import as_bool, get_domain, get_project, get_role
from cumulo.identity.roles import (
    DOMAIN,
    PROJECT,
    RoleRef,
    expand,
    granted_roles,
    implied_graph,
)
from cumulo.identity.service import IdentityService
from cumulo.identity.users import get_user


async def _check_parts(
    session: AsyncSession, target_type: str, target_id: str, user_id: str, role_id: str
) -> None:
    await get_role(session, role_id)
    await _check_target(session, target_type, target_id, user_id)


async def _check_target(
    session: AsyncSession, target_type: str, target_id: str, user_id: str
) -> None:
    await get_user(session, user_id)
    if target_type == PROJECT:
        await get_project(session, target_id)
    else:
        await get_domain(session, target_id)


def _key(target_type: str, target_id: str, user_id: str, role_id: str) -> tuple[str, str, str, str]:
    return (target_type, user_id, target_id, role_id)


async def grant(
    svc: IdentityService, target_type: str, target_id: str, user_id: str, role_id: str
) -> None:
    """Give ``user_id`` the role on the target; granting twice is harmless."""
    async with svc.db.write() as session:
        await _check_parts(session, target_type, target_id, user_id, role_id)
        if await session.get(RoleAssignment, _key(target_type, target_id, user_id, role_id)):
            return
        session.add(
            RoleAssignment(
                target_type=target_type, target_id=target_id, actor_id=user_id, role_id=role_id
            )
        )


async def check_grant(
    svc: IdentityService, target_type: str, target_id: str, user_id: str, role_id: str
) -> None:
    async with svc.db.read() as session:
        await _check_parts(session, target_type, target_id, user_id, role_id)
        found = await session.get(RoleAssignment, _key(target_type, target_id, user_id, role_id))
    if found is None:
        raise RoleAssignmentNotFound(role_id=role_id, actor_id=user_id, target_id=target_id)


async def revoke(
    svc: IdentityService, target_type: str, target_id: str, user_id: str, role_id: str
) -> None:
    async with svc.db.write() as session:
        await _check_parts(session, target_type, target_id, user_id, role_id)
        result = await session.execute(
            delete(RoleAssignment).where(
                RoleAssignment.target_type == target_type,
                RoleAssignment.target_id == target_id,
                RoleAssignment.actor_id == user_id,
                RoleAssignment.role_id == role_id,
            )
        )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise RoleAssignmentNotFound(role_id=role_id, actor_id=user_id, target_id=target_id)
    svc.validator.forget_all()


async def list_grants(
    svc: IdentityService, target_type: str, target_id: str, user_id: str
) -> list[Role]:
    """The roles granted directly to the user on the target."""
    async with svc.db.read() as session:
        await _check_target(session, target_type, target_id, user_id)
        return await granted_roles(session, user_id, target_type, target_id)


@dataclass
class Assignment:
    user_id: str
    target_type: str
    target_id: str
    role_id: str
    prior_id: str | None = None
    names: dict[str, dict[str, Any]] = field(default_factory=dict)


def _validate_filters(params: Mapping[str, str], effective: bool) -> None:
    if params.get("scope.domain.id") and params.get("scope.project.id"):
        raise exception.Invalid("Specify a domain or project, not both")
    if params.get("scope.domain.id") and params.get("scope.system"):
        raise exception.Invalid("Specify system or domain, not both")
    if params.get("scope.project.id") and params.get("scope.system"):
        raise exception.Invalid("Specify system or project, not both")
    if params.get("user.id") and params.get("group.id"):
        raise exception.Invalid("Specify a user or group, not both")
    if effective and params.get("group.id"):
        raise exception.Invalid(
            "Combining effective and group filter will always result in an empty list."
        )


def flag(params: Mapping[str, str], name: str) -> bool:
    """Keystone's query flags: present means true, unless the value is ``0``."""
    return name in params and params[name] != "0"


async def _direct(
    session: AsyncSession, params: Mapping[str, str], effective: bool
) -> list[Assignment]:
    stmt = select(RoleAssignment)
    if params.get("user.id"):
        stmt = stmt.where(RoleAssignment.actor_id == params["user.id"])
    if params.get("scope.project.id"):
        stmt = stmt.where(
            RoleAssignment.target_type == PROJECT,
            RoleAssignment.target_id == params["scope.project.id"],
        )
    if params.get("scope.domain.id"):
        stmt = stmt.where(
            RoleAssignment.target_type == DOMAIN,
            RoleAssignment.target_id == params["scope.domain.id"],
        )
    if params.get("role.id") and not effective:
        stmt = stmt.where(RoleAssignment.role_id == params["role.id"])
    stmt = stmt.order_by(
        RoleAssignment.target_type.desc(),
        RoleAssignment.target_id,
        RoleAssignment.actor_id,
        RoleAssignment.role_id,
    )
    rows = (await session.scalars(stmt)).all()
    return [Assignment(r.actor_id, r.target_type, r.target_id, r.role_id) for r in rows]


async def _effective(session: AsyncSession, direct: list[Assignment]) -> list[Assignment]:
    graph = await implied_graph(session)
    result = []
    for a in direct:
        for eff in expand([RoleRef(a.role_id, "")], graph):
            result.append(
                Assignment(a.user_id, a.target_type, a.target_id, eff.role.id, eff.prior_id)
            )
    return result


async def list_assignments(svc: IdentityService, params: Mapping[str, str]) -> list[Assignment]:
    effective = flag(params, "effective")
    _validate_filters(params, effective)
    if params.get("group.id") or params.get("scope.system"):
        return []  # cumulo has no groups and no system grants
    inherited = params.get("scope.OS-INHERIT:inherited_to")
    if inherited is not None and as_bool(inherited):
        return []
    async with svc.db.read() as session:
        found = await _direct(session, params, effective)
        if effective:
            found = await _effective(session, found)
            if params.get("role.id"):
                found = [a for a in found if a.role_id == params["role.id"]]
        if flag(params, "include_names"):
            await _add_names(session, found)
    return found


async def _add_names(session: AsyncSession, found: list[Assignment]) -> None:
    users = {u.id: u for u in await _fetch(session, User, {a.user_id for a in found})}
    roles = {r.id: r for r in await _fetch(session, Role, {a.role_id for a in found})}
    project_ids = {a.target_id for a in found if a.target_type == PROJECT}
    projects = {p.id: p for p in await _fetch(session, Project, project_ids)}
    domain_ids = {a.target_id for a in found if a.target_type == DOMAIN}
    domain_ids |= {u.domain_id for u in users.values()} | {p.domain_id for p in projects.values()}
    domains = {d.id: d.name for d in await _fetch(session, Domain, domain_ids)}
    for a in found:
        user, role = users.get(a.user_id), roles.get(a.role_id)
        if user is not None:
            a.names["user"] = _named(user.name, user.domain_id, domains)
        if role is not None:
            a.names["role"] = {"name": role.name}
        if a.target_type == PROJECT and a.target_id in projects:
            project = projects[a.target_id]
            a.names["scope"] = _named(project.name, project.domain_id, domains)
        elif a.target_type == DOMAIN:
            a.names["scope"] = {"name": domains.get(a.target_id)}


def _named(name: str, domain_id: str, domains: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "domain": {"id": domain_id, "name": domains.get(domain_id)}}


async def _fetch(session: AsyncSession, model: Any, ids: set[str]) -> list[Any]:
    if not ids:
        return []
    return list((await session.scalars(select(model).where(model.id.in_(ids)))).all())
