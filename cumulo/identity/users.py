"""Users over the database: CRUD, their projects, changing a password.

Passwords are hashed (argon2id) before the write transaction opens, so a slow
hash never holds the database's write lock. A new password or a disabled
user ends every token the user holds, as Keystone does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.identity import Domain, Project, RoleAssignment, Token, User
from cumulo.identity.errors import DuplicateEntry, UserNotFound
from cumulo.identity.manager import (
    apply_updates,
    check_immutable,
    default_domain,
    filtered,
    flush_or,
    get_domain,
)
from cumulo.identity.passwords import hash_password, verify_password
from cumulo.identity.roles import DOMAIN, PROJECT
from cumulo.identity.schemas import PasswordChange, UserCreate, UserUpdate
from cumulo.identity.service import IdentityService


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound(user_id=user_id)
    return user


async def list_users(svc: IdentityService, params: Mapping[str, str]) -> list[User]:
    stmt = filtered(select(User), User, params, ("name", "domain_id", "enabled"))
    async with svc.db.read() as session:
        return list((await session.scalars(stmt.order_by(User.name, User.id))).all())


async def create_user(svc: IdentityService, ctx: RequestContext, body: UserCreate) -> User:
    domain_id = default_domain(ctx, body.domain_id)
    hashed = None
    if body.password is not None:
        hashed = await hash_password(svc.settings.identity, body.password)
    async with svc.db.write() as session:
        await get_domain(session, domain_id)
        user = User(
            name=body.name,
            domain_id=domain_id,
            enabled=body.enabled,
            default_project_id=body.default_project_id,
            description=body.description,
            email=body.email,
            password_hash=hashed,
            password_created_at=utcnow() if hashed else None,
            extra=body.extra_values(),
        )
        session.add(user)
        await flush_or(session, DuplicateEntry.named("user", body.name, domain_id))
    return user


USER_IMMUTABLE = {"id": "Cannot change ID", "domain_id": "Cannot change Domain ID"}


async def update_user(
    svc: IdentityService, user_id: str, data: Mapping[str, Any], body: UserUpdate
) -> User:
    hashed = None
    if body.password is not None:
        hashed = await hash_password(svc.settings.identity, body.password)
    async with svc.db.write() as session:
        user = await get_user(session, user_id)
        check_immutable(data, {"id": user.id, "domain_id": user.domain_id}, USER_IMMUTABLE)
        apply_updates(user, body, ("name", "enabled", "default_project_id", "description", "email"))
        user.extra = {**user.extra, **body.extra_values()}
        if hashed is not None:
            user.password_hash, user.password_created_at = hashed, utcnow()
        await flush_or(session, DuplicateEntry.named("user", user.name, user.domain_id))
        if hashed is not None or body.enabled is False:
            await session.execute(delete(Token).where(Token.user_id == user_id))
    if hashed is not None or body.enabled is False:
        svc.validator.forget_all()
    return user


async def delete_user(svc: IdentityService, user_id: str) -> None:
    async with svc.db.write() as session:
        await get_user(session, user_id)
        await session.execute(delete(Token).where(Token.user_id == user_id))
        await session.execute(delete(RoleAssignment).where(RoleAssignment.actor_id == user_id))
        await session.execute(delete(User).where(User.id == user_id))
    svc.validator.forget_all()


async def change_password(svc: IdentityService, user_id: str, body: PasswordChange) -> None:
    """Keystone's self-service change: the original password is the credential (401 if wrong)."""
    async with svc.db.read() as session:
        user = await session.get(User, user_id)
    stored = user.password_hash if user is not None and user.enabled else None
    if not await verify_password(svc.settings.identity, stored, body.original_password):
        raise exception.NotAuthenticated()
    hashed = await hash_password(svc.settings.identity, body.password)
    async with svc.db.write() as session:
        user = await get_user(session, user_id)
        user.password_hash, user.password_created_at = hashed, utcnow()
        await session.execute(delete(Token).where(Token.user_id == user_id))
    svc.validator.forget_all()


async def projects_of_user(
    session: AsyncSession, user_id: str, enabled_only: bool = False
) -> list[Project]:
    """Projects where the user holds a role (directly)."""
    granted = select(RoleAssignment.target_id).where(
        RoleAssignment.actor_id == user_id, RoleAssignment.target_type == PROJECT
    )
    stmt = select(Project).where(Project.id.in_(granted))
    if enabled_only:
        stmt = stmt.join(Domain, Domain.id == Project.domain_id).where(
            Project.enabled.is_(True), Domain.enabled.is_(True)
        )
    return list((await session.scalars(stmt.order_by(Project.name, Project.id))).all())


async def domains_of_user(session: AsyncSession, user_id: str) -> list[Domain]:
    """Enabled domains where the user holds a role."""
    granted = select(RoleAssignment.target_id).where(
        RoleAssignment.actor_id == user_id, RoleAssignment.target_type == DOMAIN
    )
    stmt = select(Domain).where(Domain.id.in_(granted), Domain.enabled.is_(True))
    return list((await session.scalars(stmt.order_by(Domain.name))).all())
