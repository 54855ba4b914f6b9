"""The database: the single source of truth of every service.

``engine`` opens it (SQLite in WAL mode in embedded mode, PostgreSQL or
MariaDB in distributed mode), ``models`` holds the tables of every service and
``migrate`` runs the Alembic migrations, the same ones on all three engines.
"""

from cumulo.db.engine import Database

__all__ = ["Database"]
