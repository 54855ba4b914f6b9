"""What a running process has: its settings, the database, the bus, the token validator.

Every service's API and manager is built from one ``Runtime``; nothing below
it knows whether it runs embedded (one process) or distributed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cumulo.config import Settings
from cumulo.db import Database

if TYPE_CHECKING:
    from cumulo.api.auth import TokenValidator
    from cumulo.rpc import Bus


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus | None = None
    token_validator: TokenValidator | None = field(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        db = Database(settings.database_url, settings.database.pool_size, settings.database.echo)
        runtime = cls(settings=settings, db=db)
        from cumulo.identity.tokens import DatabaseTokenValidator

        runtime.token_validator = DatabaseTokenValidator(db, settings.identity)
        return runtime

    async def close(self) -> None:
        if self.bus is not None:
            await self.bus.close()
        await self.db.dispose()
