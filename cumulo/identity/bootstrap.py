"""The identity a new cloud starts with; safe to run on every start.

Creates what is missing and keeps what exists: the ``Default`` domain, the
roles ``admin`` → ``member`` → ``reader`` (each implying the next), projects
and users ``admin`` and ``demo`` with their grants, the region, and the
catalog (public, internal and admin endpoints with the same URL). Existing
passwords are never changed; endpoint URLs follow ``public_url``, so moving
the cloud to another address only needs a restart.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.config import Settings
from cumulo.db import Database
from cumulo.db.base import utcnow
from cumulo.db.models.identity import (
    Domain,
    Endpoint,
    ImpliedRole,
    Project,
    Region,
    Role,
    RoleAssignment,
    Service,
    User,
)
from cumulo.identity.manager import DEFAULT_DOMAIN_ID
from cumulo.identity.passwords import hash_password
from cumulo.identity.roles import DOMAIN, PROJECT

ROLES = ("admin", "member", "reader")
IMPLIED = (("admin", "member"), ("member", "reader"))
PROJECTS = ("admin", "demo")
USERS = ("admin", "demo")
INTERFACES = ("public", "internal", "admin")

# (service type, service name, path under the public URL)
SERVICES = (
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/networking"),
    ("block-storage", "cinder", "/volume/v3/$(project_id)s"),
    ("volumev3", "cinderv3", "/volume/v3/$(project_id)s"),
)


async def bootstrap_identity(
    db: Database, settings: Settings, public_url: str, admin_password: str, demo_password: str
) -> bool:
    """Bring the identity data up to date; True when this run created the admin user."""
    passwords = {"admin": admin_password, "demo": demo_password}
    async with db.read() as session:
        existing = set(
            await session.scalars(
                select(User.name).where(
                    User.domain_id == DEFAULT_DOMAIN_ID, User.name.in_(list(passwords))
                )
            )
        )
    hashes = {
        name: await hash_password(settings.identity, password)
        for name, password in passwords.items()
        if name not in existing
    }
    async with db.write() as session:
        await _ensure_domain(session)
        roles = await _ensure_roles(session)
        projects = {name: await _ensure_project(session, name) for name in PROJECTS}
        users, created = await _ensure_users(session, hashes)
        await _ensure_grant(session, PROJECT, projects["admin"], users["admin"], roles["admin"])
        await _ensure_grant(session, DOMAIN, DEFAULT_DOMAIN_ID, users["admin"], roles["admin"])
        await _ensure_grant(session, PROJECT, projects["demo"], users["demo"], roles["member"])
        await _ensure_catalog(session, public_url.rstrip("/"), settings.identity.region)
    return "admin" in created


async def _ensure_domain(session: AsyncSession) -> None:
    if await session.get(Domain, DEFAULT_DOMAIN_ID) is None:
        session.add(
            Domain(
                id=DEFAULT_DOMAIN_ID,
                name="Default",
                description="The default domain",
                enabled=True,
                extra={},
            )
        )
        await session.flush()


async def _ensure_roles(session: AsyncSession) -> dict[str, str]:
    found = {r.name: r.id for r in await session.scalars(select(Role).where(Role.name.in_(ROLES)))}
    for name in ROLES:
        if name not in found:
            role = Role(name=name, extra={})
            session.add(role)
            await session.flush()
            found[name] = role.id
    for prior, implied in IMPLIED:
        key = (found[prior], found[implied])
        if await session.get(ImpliedRole, key) is None:
            session.add(ImpliedRole(prior_role_id=key[0], implied_role_id=key[1]))
    await session.flush()
    return found


async def _ensure_project(session: AsyncSession, name: str) -> str:
    project_id = await session.scalar(
        select(Project.id).where(Project.domain_id == DEFAULT_DOMAIN_ID, Project.name == name)
    )
    if project_id is not None:
        return project_id
    project = Project(
        name=name,
        domain_id=DEFAULT_DOMAIN_ID,
        parent_id=DEFAULT_DOMAIN_ID,
        description=f"Bootstrap project: {name}",
        enabled=True,
        tags=[],
        extra={},
    )
    session.add(project)
    await session.flush()
    return project.id


async def _ensure_users(
    session: AsyncSession, hashes: dict[str, str]
) -> tuple[dict[str, str], set[str]]:
    rows = await session.execute(
        select(User.name, User.id).where(User.domain_id == DEFAULT_DOMAIN_ID, User.name.in_(USERS))
    )
    users = {name: user_id for name, user_id in rows}
    created = set()
    for name in USERS:
        if name in users:
            continue
        user = User(
            name=name,
            domain_id=DEFAULT_DOMAIN_ID,
            enabled=True,
            password_hash=hashes[name],
            password_created_at=utcnow(),
            extra={},
        )
        session.add(user)
        await session.flush()
        users[name] = user.id
        created.add(name)
    return users, created


async def _ensure_grant(
    session: AsyncSession, target_type: str, target_id: str, user_id: str, role_id: str
) -> None:
    key = (target_type, user_id, target_id, role_id)
    if await session.get(RoleAssignment, key) is None:
        session.add(
            RoleAssignment(
                target_type=target_type, target_id=target_id, actor_id=user_id, role_id=role_id
            )
        )
        await session.flush()


async def _ensure_catalog(session: AsyncSession, public_url: str, region_id: str) -> None:
    if await session.get(Region, region_id) is None:
        session.add(Region(id=region_id, description=""))
        await session.flush()
    for service_type, name, path in SERVICES:
        service_id = await session.scalar(
            select(Service.id).where(Service.type == service_type, Service.name == name).limit(1)
        )
        if service_id is None:
            service = Service(type=service_type, name=name, enabled=True)
            session.add(service)
            await session.flush()
            service_id = service.id
        await _ensure_endpoints(session, service_id, public_url + path, region_id)


async def _ensure_endpoints(
    session: AsyncSession, service_id: str, url: str, region_id: str
) -> None:
    rows = await session.scalars(
        select(Endpoint).where(Endpoint.service_id == service_id, Endpoint.region_id == region_id)
    )
    by_interface = {e.interface: e for e in rows}
    for interface in INTERFACES:
        endpoint = by_interface.get(interface)
        if endpoint is None:
            session.add(
                Endpoint(service_id=service_id, interface=interface, region_id=region_id, url=url)
            )
        elif endpoint.url != url:
            endpoint.url = url
    await session.flush()
