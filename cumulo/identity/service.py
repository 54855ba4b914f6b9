"""What every identity handler works with: the database, settings, token validator, catalog."""

from __future__ import annotations

from dataclasses import dataclass

from cumulo.api import policy
from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.identity.catalog import CatalogCache
from cumulo.identity.errors import ForbiddenAction
from cumulo.identity.tokens import DatabaseTokenValidator
from cumulo.runtime import Runtime


@dataclass
class IdentityService:
    db: Database
    settings: Settings
    validator: DatabaseTokenValidator
    catalog: CatalogCache
    last_cleanup: float = 0.0

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> IdentityService:
        """Share the runtime's validator (and so its cache) when it is the database one."""
        validator = runtime.token_validator
        if not isinstance(validator, DatabaseTokenValidator):
            validator = DatabaseTokenValidator(runtime.db, runtime.settings.identity)
        seconds = runtime.settings.identity.token_cache_seconds
        return cls(runtime.db, runtime.settings, validator, CatalogCache(runtime.db, seconds))


def authorize(
    ctx: RequestContext,
    action: str,
    target: policy.Target | None = None,
) -> None:
    """Enforce ``action`` from the policy table, with Keystone's 403 wording."""
    if not policy.check(ctx, action, target):
        raise ForbiddenAction(action=action)
