"""Issuing a token: who is asking (password or an existing token), for which scope.

The reads (user, scope target, roles) share one read session; the password
check (argon2, in a thread) happens with no connection held; the token row is
then written in one short transaction, which also removes expired tokens now
and then. Every failure is the same 401, whatever its cause.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Row, Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.base import utcnow
from cumulo.db.models.identity import Domain, Project, Token, User
from cumulo.exception import NotAuthenticated
from cumulo.identity.auth_request import AuthRequest, Ref, ScopeRequest
from cumulo.identity.passwords import hash_password, needs_rehash, verify_password
from cumulo.identity.roles import ImpliedRoles, RoleRef, scope_roles
from cumulo.identity.service import IdentityService
from cumulo.identity.tokens import (
    DomainScope,
    ProjectScope,
    ValidatedToken,
    hash_token,
    new_audit_id,
    new_token,
)

CLEANUP_INTERVAL = 60.0


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    domain_id: str
    domain_name: str
    default_project_id: str | None
    password_hash: str | None


@dataclass(frozen=True)
class Scope:
    project: ProjectScope | None = None
    domain: DomainScope | None = None
    system: bool = False

    @property
    def scoped(self) -> bool:
        return self.project is not None or self.domain is not None or self.system


def _by_domain(ref: Ref | None) -> ColumnElement[bool] | None:
    """The WHERE clause for the domain a name lives in (its name wins over its id)."""
    if ref is None:
        return None
    return Domain.name == ref.name if ref.name else Domain.id == ref.id


Columns = TypeVarTuple("Columns")


async def _first_by_ref(
    session: AsyncSession, stmt: Select[*Columns], ref: Ref, name: Any, ident: Any
) -> Row[*Columns] | None:
    """The first row of ``stmt`` that ``ref`` names: by name within its domain, else by id."""
    if ref.name:
        clause = _by_domain(ref.domain)
        if clause is None:
            return None
        stmt = stmt.where(name == ref.name, clause)
    else:
        stmt = stmt.where(ident == ref.id)
    return (await session.execute(stmt)).first()


async def find_user(session: AsyncSession, ref: Ref) -> Principal | None:
    """An enabled user in an enabled domain, by name (within a domain) or by id."""
    stmt = (
        select(
            User.id,
            User.name,
            User.domain_id,
            Domain.name,
            User.default_project_id,
            User.password_hash,
        )
        .join(Domain, Domain.id == User.domain_id)
        .where(User.enabled.is_(True), Domain.enabled.is_(True))
    )
    row = await _first_by_ref(session, stmt, ref, User.name, User.id)
    return Principal(*row) if row else None


async def find_project(session: AsyncSession, ref: Ref) -> ProjectScope | None:
    stmt = (
        select(Project.id, Project.name, Project.domain_id, Domain.name)
        .join(Domain, Domain.id == Project.domain_id)
        .where(Project.enabled.is_(True), Domain.enabled.is_(True))
    )
    row = await _first_by_ref(session, stmt, ref, Project.name, Project.id)
    return ProjectScope(*row) if row else None


async def find_domain(session: AsyncSession, ref: Ref) -> DomainScope | None:
    clause = _by_domain(ref)
    stmt = select(Domain.id, Domain.name).where(Domain.enabled.is_(True))
    if clause is not None:
        stmt = stmt.where(clause)
    row = (await session.execute(stmt)).first()
    return DomainScope(*row) if row else None


async def explicit_scope(session: AsyncSession, request: ScopeRequest) -> Scope:
    """The scope the request names; 401 if its target is unknown or disabled."""
    if request.kind == "unscoped":
        return Scope()
    if request.kind == "system":
        return Scope(system=True)
    assert request.target is not None
    if request.kind == "domain":
        domain = await find_domain(session, request.target)
        if domain is None:
            raise NotAuthenticated()
        return Scope(domain=domain)
    project = await find_project(session, request.target)
    if project is None:
        raise NotAuthenticated()
    return Scope(project=project)


async def default_scope(session: AsyncSession, implied: ImpliedRoles, user: Principal) -> Scope:
    """Keystone's rule with no scope asked: the default project if usable, else unscoped."""
    if not user.default_project_id:
        return Scope()
    project = await find_project(session, Ref(id=user.default_project_id))
    if project is None or not await scope_roles(session, implied, user.id, project.id):
        return Scope()
    return Scope(project=project)


async def _principal(
    session: AsyncSession, request: AuthRequest, parent: ValidatedToken | None
) -> Principal | None:
    """The user every method of the request agrees on, or None."""
    if request.password is not None:
        user = await find_user(session, request.password.user)
        if user is None or (parent is not None and parent.user_id != user.id):
            return None
        return user
    assert parent is not None
    return await find_user(session, Ref(id=parent.user_id))


async def _resolve(
    svc: IdentityService, request: AuthRequest, parent: ValidatedToken | None
) -> tuple[Principal | None, Scope, list[RoleRef]]:
    """Who is asking, for which scope, with which roles: all the reads, in one session."""
    async with svc.db.read() as session:
        user = await _principal(session, request, parent)
        if user is None:
            return None, Scope(), []
        if request.scope is not None:
            scope = await explicit_scope(session, request.scope)
        else:
            scope = await default_scope(session, svc.validator.implied, user)
        roles = await scope_roles(
            session,
            svc.validator.implied,
            user.id,
            scope.project.id if scope.project else None,
            scope.domain.id if scope.domain else None,
            scope.system,
        )
    return user, scope, roles


async def issue_token(svc: IdentityService, request: AuthRequest) -> tuple[str, ValidatedToken]:
    """Authenticate ``request`` and store a new token; returns the token and what it means."""
    parent = await svc.validator.load(request.token) if request.token is not None else None
    user, scope, roles = await _resolve(svc, request, parent)
    if request.password is not None:
        stored = user.password_hash if user is not None else None
        if not await verify_password(svc.settings.identity, stored, request.password.password):
            raise NotAuthenticated()
    if user is None or (scope.scoped and not roles):
        raise NotAuthenticated()
    token = new_token()
    data = _token_data(svc, request, user, scope, tuple(roles), parent, hash_token(token))
    await _store(svc, data, user.id, await _rehash(svc, request, user))
    svc.validator.remember(data)
    return token, data


async def _rehash(svc: IdentityService, request: AuthRequest, user: Principal) -> str | None:
    """A new hash of the (verified) password when the hashing parameters have changed."""
    if request.password is None or not user.password_hash:
        return None
    if not needs_rehash(svc.settings.identity, user.password_hash):
        return None
    return await hash_password(svc.settings.identity, request.password.password or "")


def _token_data(
    svc: IdentityService,
    request: AuthRequest,
    user: Principal,
    scope: Scope,
    roles: tuple[RoleRef, ...],
    parent: ValidatedToken | None,
    token_hash: str,
) -> ValidatedToken:
    now = utcnow()
    expires_at = now + datetime.timedelta(seconds=svc.settings.identity.token_expiration)
    methods = list(request.methods)
    audit_ids: tuple[str, ...] = (new_audit_id(),)
    if parent is not None:
        expires_at = min(expires_at, parent.expires_at)
        methods += parent.methods
        audit_ids += (parent.audit_ids[-1],)
    return ValidatedToken(
        token_hash=token_hash,
        user_id=user.id,
        user_name=user.name,
        user_domain_id=user.domain_id,
        user_domain_name=user.domain_name,
        methods=tuple(dict.fromkeys(methods)),
        audit_ids=audit_ids,
        issued_at=now,
        expires_at=expires_at,
        project=scope.project,
        domain=scope.domain,
        system=scope.system,
        roles=roles,
    )


async def _store(
    svc: IdentityService, data: ValidatedToken, user_id: str, rehash: str | None
) -> None:
    extra = {"parent_audit_id": data.audit_ids[1]} if len(data.audit_ids) > 1 else {}
    async with svc.db.write() as session:
        if time.monotonic() - svc.last_cleanup > CLEANUP_INTERVAL:
            svc.last_cleanup = time.monotonic()
            await session.execute(delete(Token).where(Token.expires_at < utcnow()))
        session.add(
            Token(
                id=data.token_hash,
                user_id=user_id,
                project_id=data.project.id if data.project else None,
                domain_id=data.domain.id if data.domain else None,
                system=data.system,
                methods=list(data.methods),
                audit_id=data.audit_ids[0],
                issued_at=data.issued_at,
                expires_at=data.expires_at,
                extra=extra,
            )
        )
        if rehash is not None:
            await session.execute(
                update(User).where(User.id == user_id).values(password_hash=rehash)
            )


async def revoke(svc: IdentityService, token_hash: str) -> None:
    """End one token, here at once and in other processes within their cache lifetime."""
    async with svc.db.write() as session:
        await session.execute(delete(Token).where(Token.id == token_hash))
    svc.validator.forget(token_hash)
