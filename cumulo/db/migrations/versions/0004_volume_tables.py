"""volume tables: volumes and attachments (Cinder v3)

Revision ID: 0004
Revises: 0003
"""

import datetime
import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB, as cumulo.db.base.Timestamp.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    volume_types = op.create_table(
        "volume_types",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("extra_specs", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_types")),
        sa.UniqueConstraint("name", name=op.f("uq_volume_types_name")),
    )
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attach_status", sa.String(32), nullable=False),
        sa.Column("availability_zone", sa.String(255), nullable=False),
        sa.Column("volume_type_id", sa.String(36), nullable=False),
        sa.Column("bootable", sa.Boolean(), nullable=False),
        sa.Column("multiattach", sa.Boolean(), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("image_metadata", sa.JSON(), nullable=True),
        sa.Column("disk_format", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("path", sa.String(1024), nullable=True),
        sa.Column("launched_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["volume_type_id"],
            ["volume_types.id"],
            name=op.f("fk_volumes_volume_type_id_volume_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volumes")),
    )
    op.create_index(op.f("ix_volumes_project_id"), "volumes", ["project_id"])
    op.create_table(
        "volume_attachments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("attach_status", sa.String(32), nullable=False),
        sa.Column("attach_mode", sa.String(8), nullable=False),
        sa.Column("connector", sa.JSON(), nullable=True),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("attached_host", sa.String(255), nullable=True),
        sa.Column("mountpoint", sa.String(255), nullable=True),
        sa.Column("attach_time", TIMESTAMP, nullable=True),
        sa.Column("detach_time", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["volume_id"],
            ["volumes.id"],
            name=op.f("fk_volume_attachments_volume_id_volumes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_attachments")),
    )
    op.create_index(op.f("ix_volume_attachments_volume_id"), "volume_attachments", ["volume_id"])
    op.create_index(
        op.f("ix_volume_attachments_instance_uuid"), "volume_attachments", ["instance_uuid"]
    )
    op.create_table(
        "volume_quotas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_quotas")),
        sa.UniqueConstraint(
            "project_id", "resource", name=op.f("uq_volume_quotas_project_id_resource")
        ),
    )
    op.create_table(
        "volume_quota_locks",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_volume_quota_locks")),
    )
    # Cinder's migration creates the default type too; every volume has a type.
    op.bulk_insert(
        volume_types,
        [
            {
                "id": str(uuid.uuid4()),
                "name": "__DEFAULT__",
                "description": "Default Volume Type",
                "is_public": True,
                "extra_specs": {},
                "created_at": datetime.datetime.now(datetime.UTC).replace(tzinfo=None),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("volume_quota_locks")
    op.drop_table("volume_quotas")
    op.drop_index(op.f("ix_volume_attachments_instance_uuid"), table_name="volume_attachments")
    op.drop_index(op.f("ix_volume_attachments_volume_id"), table_name="volume_attachments")
    op.drop_table("volume_attachments")
    op.drop_index(op.f("ix_volumes_project_id"), table_name="volumes")
    op.drop_table("volumes")
    op.drop_table("volume_types")
