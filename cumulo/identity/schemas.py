"""Request bodies of the identity CRUD APIs, with Keystone's limits.

Domains, projects, users and roles accept properties Keystone does not know
(``additionalProperties: true``); those are kept in the row's ``extra`` and
returned with it. Update models have every field optional; an empty update is
refused as Keystone refuses it (``minProperties: 1``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, StringConstraints

Name64 = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=r"\S")]
Name255 = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=255, pattern=r"\S")
]
IdString = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9-]+$")
]
Url = Annotated[str, StringConstraints(strict=True, max_length=225, pattern=r"^[a-zA-Z0-9+.-]+:.+")]
Tags = list[Annotated[str, StringConstraints(strict=True, min_length=1, max_length=255)]]

# Keys a client may send that cumulo accepts but does not store.
IGNORED = frozenset(
    {"id", "options", "links", "is_domain", "domain_id", "parent_id", "password_expires_at"}
)


class _Open(BaseModel):
    """A body that keeps unknown properties (``model_extra``)."""

    model_config = ConfigDict(extra="allow")

    def extra_values(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items() if k not in IGNORED}


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DomainCreate(_Open):
    name: Name64
    description: StrictStr | None = None
    enabled: StrictBool = True
    tags: Tags = []


class DomainUpdate(_Open):
    name: Name64 | None = None
    description: StrictStr | None = None
    enabled: StrictBool | None = None
    tags: Tags | None = None


class ProjectCreate(_Open):
    name: Name64
    description: StrictStr | None = None
    domain_id: IdString | None = None
    parent_id: IdString | None = None
    enabled: StrictBool = True
    is_domain: StrictBool = False
    tags: Tags = []


class ProjectUpdate(_Open):
    name: Name64 | None = None
    description: StrictStr | None = None
    enabled: StrictBool | None = None
    tags: Tags | None = None


class UserCreate(_Open):
    name: Name255
    domain_id: IdString | None = None
    default_project_id: IdString | None = None
    enabled: StrictBool = True
    password: StrictStr | None = None
    description: StrictStr | None = None
    email: StrictStr | None = None


class UserUpdate(_Open):
    name: Name255 | None = None
    default_project_id: IdString | None = None
    enabled: StrictBool | None = None
    password: StrictStr | None = None
    description: StrictStr | None = None
    email: StrictStr | None = None


class PasswordChange(_Closed):
    password: StrictStr
    original_password: StrictStr


class RoleCreate(_Open):
    name: Name255
    description: StrictStr | None = None
    domain_id: IdString | None = None


class RoleUpdate(_Open):
    name: Name255 | None = None
    description: StrictStr | None = None


class ServiceCreate(_Closed):
    type: Name255
    name: Name255 | None = None
    description: StrictStr | None = None
    enabled: StrictBool = True


class EndpointCreate(_Closed):
    service_id: IdString
    interface: Literal["admin", "internal", "public"]
    url: Url
    region_id: StrictStr | None = None
    region: StrictStr | None = None
    enabled: StrictBool = True


class RegionCreate(_Closed):
    id: StrictStr | None = None
    description: StrictStr | None = None
    parent_region_id: StrictStr | None = None
