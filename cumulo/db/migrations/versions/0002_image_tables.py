"""image tables: images (Glance v2)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op  # noqa: F401
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB, as cumulo.db.base.Timestamp.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
