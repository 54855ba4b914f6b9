"""network tables: networks, subnets, ports, security groups (Neutron v2.0)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op  # noqa: F401
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB, as cumulo.db.base.Timestamp.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
