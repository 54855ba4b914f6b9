"""network tables: routers, floating IPs, VXLAN allocations, data plane agents

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB, as cumulo.db.base.Timestamp.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "routers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("external_network_id", sa.String(36), nullable=True),
        sa.Column("gw_port_id", sa.String(36), nullable=True),
        sa.Column("enable_snat", sa.Boolean(), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routers")),
    )
    op.create_index(op.f("ix_routers_project_id"), "routers", ["project_id"])
    op.create_table(
        "floatingips",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("floating_network_id", sa.String(36), nullable=False),
        sa.Column("floating_ip_address", sa.String(64), nullable=False),
        sa.Column("floating_port_id", sa.String(36), nullable=False),
        sa.Column("fixed_port_id", sa.String(36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(64), nullable=True),
        sa.Column("router_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_floatingips")),
        sa.UniqueConstraint(
            "floating_network_id",
            "fixed_port_id",
            "fixed_ip_address",
            name=op.f("uq_floatingips_floating_network_id_fixed_port_id_fixed_ip_address"),
        ),
    )
    op.create_index(op.f("ix_floatingips_project_id"), "floatingips", ["project_id"])
    op.create_index(op.f("ix_floatingips_fixed_port_id"), "floatingips", ["fixed_port_id"])
    op.create_index(op.f("ix_floatingips_router_id"), "floatingips", ["router_id"])

    op.create_table(
        "vxlan_allocations",
        sa.Column("vni", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("network_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("vni", name=op.f("pk_vxlan_allocations")),
        sa.UniqueConstraint("network_id", name=op.f("uq_vxlan_allocations_network_id")),
    )
    op.create_table(
        "network_agents",
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("local_ip", sa.String(64), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_network_agents")),
    )


def downgrade() -> None:
    op.drop_table("network_agents")
    op.drop_table("vxlan_allocations")
    op.drop_table("floatingips")
    op.drop_table("routers")
