"""Domains, projects and roles over the database (users are in ``users.py``).

Each write is one transaction. A change that can take rights away (disable,
delete, revoke) also drops every cached token of this process, so the next
request re-reads the truth; other processes see it within the cache lifetime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.db.models.identity import (
    Domain,
    ImpliedRole,
    Project,
    Role,
    RoleAssignment,
    Token,
    User,
)
from cumulo.identity.errors import (
    DomainNotFound,
    DuplicateEntry,
    ProjectNotFound,
    RoleNotFound,
)
from cumulo.identity.schemas import (
    DomainCreate,
    DomainUpdate,
    ProjectCreate,
    ProjectUpdate,
    RoleCreate,
    RoleUpdate,
)
from cumulo.identity.service import IdentityService

DEFAULT_DOMAIN_ID = "default"
_FALSE = frozenset({"0", "f", "false", "n", "no", "off"})
_NOT_NULL = frozenset({"name", "enabled"})


def as_bool(value: str) -> bool:
    """A query-string boolean, read as Keystone reads it (unknown words are true)."""
    return value.strip().lower() not in _FALSE


def filtered(
    stmt: Select[Any], model: Any, params: Mapping[str, str], names: Sequence[str]
) -> Select[Any]:
    """``stmt`` restricted by the exact-match filters in ``params`` that ``names`` allows."""
    for name in names:
        if name in params:
            value: Any = params[name]
            stmt = stmt.where(
                getattr(model, name) == (as_bool(value) if name == "enabled" else value)
            )
    return stmt


async def flush_or(session: AsyncSession, error: exception.CumuloError) -> None:
    """Flush pending rows; a unique-constraint violation becomes ``error``."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise error from exc


def check_immutable(
    data: Mapping[str, Any], current: Mapping[str, Any], messages: Mapping[str, str]
) -> None:
    """Refuse an update that tries to change a key Keystone does not let change."""
    for key, message in messages.items():
        if key in data and data[key] != current[key]:
            raise exception.Invalid(message)


def apply_updates(row: Any, body: Any, names: Sequence[str]) -> None:
    """Copy the fields the client sent; null only clears the columns that allow it."""
    for name in names:
        if name not in body.model_fields_set:
            continue
        value = getattr(body, name)
        if value is None and name in _NOT_NULL:
            continue
        setattr(row, name, value if value is not None or name != "tags" else [])


def default_domain(ctx: RequestContext, requested: str | None) -> str:
    return requested or ctx.domain_id or DEFAULT_DOMAIN_ID


# domains


async def get_domain(session: AsyncSession, domain_id: str) -> Domain:
    domain = await session.get(Domain, domain_id)
    if domain is None:
        raise DomainNotFound(domain_id=domain_id)
    return domain


async def list_domains(svc: IdentityService, params: Mapping[str, str]) -> list[Domain]:
    stmt = filtered(select(Domain), Domain, params, ("name", "enabled")).order_by(Domain.name)
    async with svc.db.read() as session:
        return list((await session.scalars(stmt)).all())


async def create_domain(svc: IdentityService, body: DomainCreate) -> Domain:
    extra = {**body.extra_values(), "tags": body.tags}
    async with svc.db.write() as session:
        domain = Domain(
            name=body.name, description=body.description or "", enabled=body.enabled, extra=extra
        )
        session.add(domain)
        await flush_or(session, DuplicateEntry.named("domain", body.name))
    return domain


async def update_domain(svc: IdentityService, domain_id: str, body: DomainUpdate) -> Domain:
    async with svc.db.write() as session:
        domain = await get_domain(session, domain_id)
        fields = body.model_fields_set
        extra = {**domain.extra, **body.extra_values()}
        if "tags" in fields:
            extra["tags"] = body.tags or []
        domain.extra = extra
        apply_updates(domain, body, ("name", "description", "enabled"))
        await flush_or(session, DuplicateEntry.named("domain", domain.name))
    if body.enabled is False:
        svc.validator.forget_all()
    return domain


async def delete_domain(svc: IdentityService, domain_id: str) -> None:
    """Delete a disabled domain with its projects, users and their grants and tokens."""
    async with svc.db.write() as session:
        domain = await get_domain(session, domain_id)
        if domain.enabled:
            raise exception.Forbidden(
                "Cannot delete a domain that is enabled, please disable it first."
            )
        projects = select(Project.id).where(Project.domain_id == domain_id)
        users = select(User.id).where(User.domain_id == domain_id)
        await session.execute(
            delete(RoleAssignment).where(
                or_(
                    RoleAssignment.target_id == domain_id,
                    RoleAssignment.target_id.in_(projects),
                    RoleAssignment.actor_id.in_(users),
                )
            )
        )
        await session.execute(
            delete(Token).where(
                or_(
                    Token.project_id.in_(projects),
                    Token.user_id.in_(users),
                    Token.domain_id == domain_id,
                )
            )
        )
        await session.execute(delete(Project).where(Project.domain_id == domain_id))
        await session.execute(delete(User).where(User.domain_id == domain_id))
        await session.execute(delete(Domain).where(Domain.id == domain_id))
    svc.validator.forget_all()


# projects


async def get_project(session: AsyncSession, project_id: str) -> Project:
    project = await session.get(Project, project_id)
    if project is None:
        raise ProjectNotFound(project_id=project_id)
    return project


async def list_projects(svc: IdentityService, params: Mapping[str, str]) -> list[Project]:
    if as_bool(params.get("is_domain", "false")):
        return []
    stmt = filtered(
        select(Project), Project, params, ("name", "domain_id", "enabled", "parent_id")
    ).order_by(Project.name, Project.id)
    async with svc.db.read() as session:
        return list((await session.scalars(stmt)).all())


async def _parent_id(session: AsyncSession, parent_id: str | None, domain_id: str) -> str:
    if not parent_id or parent_id == domain_id:
        return domain_id
    parent = await get_project(session, parent_id)
    if parent.domain_id != domain_id:
        raise exception.Invalid(
            f"Cannot create project, since it specifies its domain_id {domain_id}, but "
            f"specifies a parent in a different domain ({parent.domain_id})."
        )
    return parent_id


async def create_project(svc: IdentityService, ctx: RequestContext, body: ProjectCreate) -> Project:
    if body.is_domain:
        raise exception.Invalid("Creating a domain as a project (is_domain) is not supported.")
    domain_id = default_domain(ctx, body.domain_id)
    async with svc.db.write() as session:
        await get_domain(session, domain_id)
        project = Project(
            name=body.name,
            domain_id=domain_id,
            parent_id=await _parent_id(session, body.parent_id, domain_id),
            description=body.description or "",
            enabled=body.enabled,
            tags=body.tags,
            extra=body.extra_values(),
        )
        session.add(project)
        await flush_or(session, DuplicateEntry.named("project", body.name, domain_id))
    return project


PROJECT_IMMUTABLE = {
    "id": "Cannot change ID",
    "domain_id": "Update of `domain_id` is not allowed.",
    "parent_id": "Update of `parent_id` is not allowed.",
    "is_domain": "Update of `is_domain` is not allowed.",
}


async def update_project(
    svc: IdentityService, project_id: str, data: Mapping[str, Any], body: ProjectUpdate
) -> Project:
    async with svc.db.write() as session:
        project = await get_project(session, project_id)
        current = {
            "id": project.id,
            "domain_id": project.domain_id,
            "parent_id": project.parent_id,
            "is_domain": False,
        }
        check_immutable(data, current, PROJECT_IMMUTABLE)
        apply_updates(project, body, ("name", "description", "enabled", "tags"))
        project.extra = {**project.extra, **body.extra_values()}
        await flush_or(session, DuplicateEntry.named("project", project.name, project.domain_id))
    if body.enabled is False:
        svc.validator.forget_all()
    return project


async def delete_project(svc: IdentityService, project_id: str) -> None:
    async with svc.db.write() as session:
        await get_project(session, project_id)
        child = await session.scalar(
            select(Project.id).where(Project.parent_id == project_id).limit(1)
        )
        if child is not None:
            raise exception.Forbidden(
                f"Cannot delete the project {project_id} since it is not a leaf in the "
                "hierarchy. Use the cascade option if you want to delete a whole subtree."
            )
        await session.execute(delete(RoleAssignment).where(RoleAssignment.target_id == project_id))
        await session.execute(delete(Token).where(Token.project_id == project_id))
        await session.execute(delete(Project).where(Project.id == project_id))
    svc.validator.forget_all()


# roles


async def get_role(session: AsyncSession, role_id: str) -> Role:
    role = await session.get(Role, role_id)
    if role is None:
        raise RoleNotFound(role_id=role_id)
    return role


async def list_roles(svc: IdentityService, params: Mapping[str, str]) -> list[Role]:
    if params.get("domain_id"):
        return []  # every cumulo role is global
    stmt = filtered(select(Role), Role, params, ("name",)).order_by(Role.name)
    async with svc.db.read() as session:
        return list((await session.scalars(stmt)).all())


async def create_role(svc: IdentityService, body: RoleCreate) -> Role:
    if body.domain_id is not None:
        raise exception.Invalid("Domain-specific roles are not supported.")
    async with svc.db.write() as session:
        role = Role(name=body.name, description=body.description, extra=body.extra_values())
        session.add(role)
        await flush_or(session, DuplicateEntry.named("role", body.name))
    return role


async def update_role(
    svc: IdentityService, role_id: str, data: Mapping[str, Any], body: RoleUpdate
) -> Role:
    async with svc.db.write() as session:
        role = await get_role(session, role_id)
        check_immutable(
            data,
            {"id": role.id, "domain_id": None},
            {"id": "Cannot change ID", "domain_id": "Update of `domain_id` is not allowed."},
        )
        apply_updates(role, body, ("name", "description"))
        role.extra = {**role.extra, **body.extra_values()}
        await flush_or(session, DuplicateEntry.named("role", role.name))
    return role


async def delete_role(svc: IdentityService, role_id: str) -> None:
    async with svc.db.write() as session:
        await get_role(session, role_id)
        await session.execute(delete(RoleAssignment).where(RoleAssignment.role_id == role_id))
        await session.execute(
            delete(ImpliedRole).where(
                or_(ImpliedRole.prior_role_id == role_id, ImpliedRole.implied_role_id == role_id)
            )
        )
        await session.execute(delete(Role).where(Role.id == role_id))
    svc.validator.forget_all()
