"""Response bodies in Keystone's shapes: entities with ``links``, collections, tokens.

Every link is built from the request's base URL (``…/identity/``), so the
documents are right behind any proxy that sets the host.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request

from cumulo.api.factory import self_url
from cumulo.db.models.identity import Domain, Endpoint, Project, Region, Role, Service, User
from cumulo.identity.assignments import Assignment
from cumulo.identity.roles import PROJECT
from cumulo.identity.tokens import ValidatedToken


def v3_url(request: Request, *parts: str) -> str:
    return self_url(str(request.base_url), "v3", *parts)


def isotime(value: datetime.datetime) -> str:
    """ISO 8601 with microseconds and a ``Z``, as Keystone writes token times."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def collection(request: Request, key: str, items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: list(items),
        "links": {"self": str(request.url), "previous": None, "next": None},
    }


def _with_extra(extra: Mapping[str, Any] | None, body: dict[str, Any]) -> dict[str, Any]:
    return {**(extra or {}), **body}


def domain(request: Request, d: Domain) -> dict[str, Any]:
    extra = dict(d.extra or {})
    tags = extra.pop("tags", [])
    return _with_extra(
        extra,
        {
            "id": d.id,
            "name": d.name,
            "description": d.description,
            "enabled": d.enabled,
            "tags": tags,
            "options": {},
            "links": {"self": v3_url(request, "domains", d.id)},
        },
    )


def project(request: Request, p: Project) -> dict[str, Any]:
    return _with_extra(
        p.extra,
        {
            "id": p.id,
            "name": p.name,
            "domain_id": p.domain_id,
            "description": p.description,
            "enabled": p.enabled,
            "parent_id": p.parent_id or p.domain_id,
            "is_domain": False,
            "tags": list(p.tags or []),
            "options": {},
            "links": {"self": v3_url(request, "projects", p.id)},
        },
    )


def user(request: Request, u: User) -> dict[str, Any]:
    body = _with_extra(
        u.extra,
        {
            "id": u.id,
            "name": u.name,
            "domain_id": u.domain_id,
            "enabled": u.enabled,
            "password_expires_at": None,
            "options": {},
            "links": {"self": v3_url(request, "users", u.id)},
        },
    )
    for optional in ("default_project_id", "description", "email"):
        value = getattr(u, optional)
        if value is not None:
            body[optional] = value
    return body


def role(request: Request, r: Role) -> dict[str, Any]:
    return _with_extra(
        r.extra,
        {
            "id": r.id,
            "name": r.name,
            "domain_id": None,
            "description": r.description,
            "options": {},
            "links": {"self": v3_url(request, "roles", r.id)},
        },
    )


def service(request: Request, s: Service) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": s.id,
        "type": s.type,
        "name": s.name,
        "enabled": s.enabled,
        "links": {"self": v3_url(request, "services", s.id)},
    }
    if s.description is not None:
        body["description"] = s.description
    return body


def endpoint(request: Request, e: Endpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "interface": e.interface,
        "region_id": e.region_id,
        "region": e.region_id,
        "service_id": e.service_id,
        "url": e.url,
        "enabled": e.enabled,
        "links": {"self": v3_url(request, "endpoints", e.id)},
    }


def region(request: Request, r: Region) -> dict[str, Any]:
    return {
        "id": r.id,
        "description": r.description or "",
        "parent_region_id": r.parent_region_id,
        "links": {"self": v3_url(request, "regions", r.id)},
    }


def assignment(request: Request, a: Assignment) -> dict[str, Any]:
    """One ``/v3/role_assignments`` entry; its link names the grant it comes from."""
    target_kind = "project" if a.target_type == PROJECT else "domain"
    granted = a.prior_id or a.role_id
    entry: dict[str, Any] = {
        "scope": {target_kind: {"id": a.target_id, **a.names.get("scope", {})}},
        "user": {"id": a.user_id, **a.names.get("user", {})},
        "role": {"id": a.role_id, **a.names.get("role", {})},
        "links": {
            "assignment": v3_url(
                request, f"{target_kind}s", a.target_id, "users", a.user_id, "roles", granted
            )
        },
    }
    if a.prior_id:
        # Keystone names the implied role first here; kept for clients that compare links.
        entry["links"]["prior_role"] = v3_url(
            request, "prior_role", a.role_id, "implies", a.prior_id
        )
    return entry


def token(t: ValidatedToken, catalog: list[dict[str, Any]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "methods": list(t.methods),
        "user": {
            "domain": {"id": t.user_domain_id, "name": t.user_domain_name},
            "id": t.user_id,
            "name": t.user_name,
            "password_expires_at": None,
        },
        "audit_ids": list(t.audit_ids),
        "expires_at": isotime(t.expires_at),
        "issued_at": isotime(t.issued_at),
    }
    roles = [{"id": r.id, "name": r.name} for r in t.roles]
    if t.system:
        body["roles"] = roles
        body["system"] = {"all": True}
    elif t.domain is not None:
        body["domain"] = {"id": t.domain.id, "name": t.domain.name}
        body["roles"] = roles
    elif t.project is not None:
        p = t.project
        body["project"] = {
            "domain": {"id": p.domain_id, "name": p.domain_name},
            "id": p.id,
            "name": p.name,
        }
        body["is_domain"] = False
        body["roles"] = roles
    if catalog is not None and not t.unscoped:
        body["catalog"] = catalog
    return {"token": body}
