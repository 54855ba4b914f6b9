"""First-start set-up of a cloud: identity (users, roles, catalog) and default flavors.

Safe to run on every start: what exists is kept (passwords included), what is
missing is created, and endpoint URLs follow the current public URL.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cumulo.clouds import Credentials, read_credentials, write_clouds_yaml
from cumulo.compute.bootstrap import ensure_default_flavors
from cumulo.config import Settings
from cumulo.db import Database
from cumulo.identity.bootstrap import bootstrap_identity

LOG = logging.getLogger(__name__)


async def bootstrap(
    db: Database, settings: Settings, clouds_yaml: Path, creds: Credentials | None = None
) -> Credentials:
    """Bootstrap the cloud in ``db`` and write ``clouds_yaml``; return the passwords used."""
    creds = creds or read_credentials(clouds_yaml) or Credentials.generate()
    created = await bootstrap_identity(
        db,
        settings,
        public_url=settings.public_url,
        admin_password=creds.admin_password,
        demo_password=creds.demo_password,
    )
    await ensure_default_flavors(db)
    write_clouds_yaml(clouds_yaml, settings.public_url, creds, settings.identity.region)
    LOG.info("bootstrap %s; clouds.yaml at %s", "done" if created else "checked", clouds_yaml)
    return creds
