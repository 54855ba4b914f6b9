"""volume tables: volumes and attachments (Cinder v3)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op  # noqa: F401
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB, as cumulo.db.base.Timestamp.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
