"""Tokens: opaque random strings, stored only as their SHA-256, validated from the database.

Validation is one primary-key read of the token joined to its user, project
and domains (so a disabled user or project invalidates its tokens at once),
plus the roles on the scope. The result is kept in an in-process cache for
``token_cache_seconds``; a revoke in this process evicts it immediately, a
revoke elsewhere is seen when the entry ages out. Concurrent misses for one
token share a single database read.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import secrets
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cumulo.config import IdentitySettings
from cumulo.context import RequestContext, arrival_or_now
from cumulo.db import Database
from cumulo.db.base import utcnow
from cumulo.db.models.identity import Domain, Project, Role, RoleAssignment, Token, User
from cumulo.exception import NotAuthenticated
from cumulo.identity.roles import (
    DOMAIN,
    PROJECT,
    ImpliedRoles,
    RoleRef,
    expand_roles,
    system_grant,
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_audit_id() -> str:
    """22 URL-safe characters, the shape of Keystone's audit ids."""
    return secrets.token_urlsafe(16)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ProjectScope:
    id: str
    name: str
    domain_id: str
    domain_name: str


@dataclass(frozen=True)
class DomainScope:
    id: str
    name: str


@dataclass(frozen=True)
class ValidatedToken:
    """Everything a token stands for, enough to render it and to build a context."""

    token_hash: str
    user_id: str
    user_name: str
    user_domain_id: str
    user_domain_name: str
    methods: tuple[str, ...]
    audit_ids: tuple[str, ...]
    issued_at: datetime.datetime
    expires_at: datetime.datetime
    project: ProjectScope | None = None
    domain: DomainScope | None = None
    system: bool = False
    roles: tuple[RoleRef, ...] = ()

    @property
    def unscoped(self) -> bool:
        return self.project is None and self.domain is None and not self.system

    @cached_property
    def _context(self) -> RequestContext:
        return RequestContext(
            request_id="",
            user_id=self.user_id,
            user_name=self.user_name,
            user_domain_id=self.user_domain_id,
            project_id=self.project.id if self.project else None,
            project_name=self.project.name if self.project else None,
            project_domain_id=self.project.domain_id if self.project else None,
            domain_id=self.domain.id if self.domain else None,
            system_scope=self.system,
            roles=tuple(r.name for r in self.roles),
        )

    def context(self, request_id: str) -> RequestContext:
        """The token's context for one request, stamped with the request's arrival."""
        update = {"request_id": request_id, "timestamp": arrival_or_now()}
        return self._context.model_copy(update=update)


_UserDomain = aliased(Domain)
_ProjectDomain = aliased(Domain)
_ScopeDomain = aliased(Domain)

# The token, everything that can invalidate it, and its direct grants on its scope:
# one row per granted role (or one row with no role), in a single primary-key read.
_TOKEN_QUERY = (
    select(
        Token,
        User.name.label("user_name"),
        User.domain_id.label("user_domain_id"),
        User.enabled.label("user_on"),
        _UserDomain.name.label("user_domain_name"),
        _UserDomain.enabled.label("user_domain_on"),
        Project.name.label("project_name"),
        Project.domain_id.label("project_domain_id"),
        Project.enabled.label("project_on"),
        _ProjectDomain.name.label("project_domain_name"),
        _ProjectDomain.enabled.label("project_domain_on"),
        _ScopeDomain.name.label("domain_name"),
        _ScopeDomain.enabled.label("domain_on"),
        Role.id.label("role_id"),
        Role.name.label("role_name"),
    )
    .join(User, User.id == Token.user_id)
    .join(_UserDomain, _UserDomain.id == User.domain_id)
    .outerjoin(Project, Project.id == Token.project_id)
    .outerjoin(_ProjectDomain, _ProjectDomain.id == Project.domain_id)
    .outerjoin(_ScopeDomain, _ScopeDomain.id == Token.domain_id)
    .outerjoin(
        RoleAssignment,
        and_(
            RoleAssignment.actor_id == Token.user_id,
            or_(
                and_(
                    RoleAssignment.target_type == PROJECT,
                    RoleAssignment.target_id == Token.project_id,
                ),
                and_(
                    RoleAssignment.target_type == DOMAIN,
                    RoleAssignment.target_id == Token.domain_id,
                ),
            ),
        ),
    )
    .outerjoin(Role, Role.id == RoleAssignment.role_id)
)


def _scope(row: Any) -> tuple[ProjectScope | None, DomainScope | None] | None:
    """The token's project or domain scope; None when that scope is gone or disabled."""
    tok = row.Token
    project = domain = None
    if tok.project_id is not None:
        if not (row.project_on and row.project_domain_on):
            return None
        project = ProjectScope(
            tok.project_id, row.project_name, row.project_domain_id, row.project_domain_name
        )
    if tok.domain_id is not None:
        if not row.domain_on:
            return None
        domain = DomainScope(tok.domain_id, row.domain_name)
    return project, domain


async def load_token(
    session: AsyncSession, token_hash: str, implied: ImpliedRoles
) -> ValidatedToken | None:
    """The live token with this hash, or None if unknown, expired or no longer usable."""
    rows = (await session.execute(_TOKEN_QUERY.where(Token.id == token_hash))).all()
    if not rows:
        return None
    first, tok = rows[0], rows[0].Token
    if tok.expires_at <= utcnow() or not (first.user_on and first.user_domain_on):
        return None
    scope = _scope(first)
    if scope is None:
        return None
    direct = sorted(
        (RoleRef(r.role_id, r.role_name) for r in rows if r.role_id is not None),
        key=lambda r: r.name,
    )
    if tok.system:
        direct = await system_grant(session, tok.user_id)
    roles = expand_roles(direct, await implied.graph(session)) if direct else []
    if (tok.project_id or tok.domain_id or tok.system) and not roles:
        return None
    parent = (tok.extra or {}).get("parent_audit_id")
    return ValidatedToken(
        token_hash=token_hash,
        user_id=tok.user_id,
        user_name=first.user_name,
        user_domain_id=first.user_domain_id,
        user_domain_name=first.user_domain_name,
        methods=tuple(tok.methods),
        audit_ids=(tok.audit_id, parent) if parent else (tok.audit_id,),
        issued_at=tok.issued_at,
        expires_at=tok.expires_at,
        project=scope[0],
        domain=scope[1],
        system=tok.system,
        roles=tuple(roles),
    )


class TokenCache:
    """token hash → validated token, each entry trusted until its deadline."""

    def __init__(self, seconds: float, max_entries: int = 50_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[ValidatedToken, float]] = {}

    def get(self, token_hash: str) -> ValidatedToken | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._entries.pop(token_hash, None)
            return None
        return entry[0]

    def put(self, token: ValidatedToken) -> None:
        remaining = (token.expires_at - utcnow()).total_seconds()
        ttl = min(self.seconds, remaining)
        if ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._evict()
        self._entries[token.token_hash] = (token, time.monotonic() + ttl)

    def _evict(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, deadline) in self._entries.items() if deadline <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]

    def forget(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)

    def clear(self) -> None:
        self._entries.clear()


class DatabaseTokenValidator:
    """The ``TokenValidator`` every API uses: token → ``RequestContext``, or 401."""

    def __init__(self, db: Database, settings: IdentitySettings) -> None:
        self.db = db
        self.settings = settings
        self.cache = TokenCache(settings.token_cache_seconds)
        self.implied = ImpliedRoles(settings.token_cache_seconds)
        self._inflight: dict[str, asyncio.Future[ValidatedToken | None]] = {}
        self._generation = 0

    async def validate(self, token: str, request_id: str) -> RequestContext:
        return (await self.load(token)).context(request_id)

    async def load(self, token: str) -> ValidatedToken:
        """The token's data; ``NotAuthenticated`` if it is unknown, expired or revoked."""
        token_hash = hash_token(token)
        found = self.cache.get(token_hash)
        if found is None:
            found = await self._shared_fetch(token_hash)
        if found is None:
            raise NotAuthenticated()
        return found

    async def _shared_fetch(self, token_hash: str) -> ValidatedToken | None:
        future = self._inflight.get(token_hash)
        if future is None:
            future = asyncio.ensure_future(self._fetch(token_hash))
            self._inflight[token_hash] = future
            future.add_done_callback(lambda f: self._fetched(token_hash, f))
        return await asyncio.shield(future)

    def _fetched(self, token_hash: str, future: asyncio.Future[ValidatedToken | None]) -> None:
        self._inflight.pop(token_hash, None)
        if not future.cancelled():
            future.exception()  # mark retrieved: every waiter re-raises it anyway

    async def _fetch(self, token_hash: str) -> ValidatedToken | None:
        generation = self._generation
        async with self.db.read() as session:
            found = await load_token(session, token_hash, self.implied)
        if found is not None and generation == self._generation:
            self.cache.put(found)
        return found

    def remember(self, token: ValidatedToken) -> None:
        """Cache a token just issued, so its first use needs no database read."""
        self.cache.put(token)

    def forget(self, token_hash: str) -> None:
        """Evict one token (it was revoked)."""
        self._generation += 1
        self.cache.forget(token_hash)

    def forget_all(self) -> None:
        """Evict every token: a user, project, domain, role or grant changed under them."""
        self._generation += 1
        self.cache.clear()
        self.implied.invalidate()
