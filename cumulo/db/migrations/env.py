"""Alembic environment: runs on the connection ``cumulo.db.migrate`` hands it."""

from alembic import context

import cumulo.db.models  # noqa: F401  (registers every table on the metadata)
from cumulo.db.base import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through cumulo.db.migrate (cumulo db upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
