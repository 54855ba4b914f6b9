"""image tables: images, image_tags, image_members (Glance v2)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB, as cumulo.db.base.Timestamp.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("disk_format", sa.String(20), nullable=True),
        sa.Column("container_format", sa.String(20), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("virtual_size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(32), nullable=True),
        sa.Column("os_hash_algo", sa.String(64), nullable=True),
        sa.Column("os_hash_value", sa.String(128), nullable=True),
        sa.Column("min_disk", sa.Integer(), nullable=False),
        sa.Column("min_ram", sa.Integer(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("os_hidden", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
    )
    op.create_index("ix_images_owner", "images", ["owner"])
    op.create_index("ix_images_status", "images", ["status"])
    op.create_table(
        "image_tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_image_tags_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_tags")),
        sa.UniqueConstraint("image_id", "value", name=op.f("uq_image_tags_image_id_value")),
    )
    op.create_index("ix_image_tags_value", "image_tags", ["value"])
    op.create_table(
        "image_members",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("member", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_members")),
        sa.UniqueConstraint("image_id", "member", name=op.f("uq_image_members_image_id_member")),
    )
    op.create_index(op.f("ix_image_members_image_id"), "image_members", ["image_id"])


def downgrade() -> None:
    op.drop_table("image_members")
    op.drop_index("ix_image_tags_value", table_name="image_tags")
    op.drop_table("image_tags")
    op.drop_index("ix_images_status", table_name="images")
    op.drop_index("ix_images_owner", table_name="images")
    op.drop_table("images")
