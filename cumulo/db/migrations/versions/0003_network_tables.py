"""network tables: networks, subnets, ports, security groups (Neutron v2.0)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB, as cumulo.db.base.Timestamp.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("mtu", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("network_type", sa.String(32), nullable=False),
        sa.Column("physical_network", sa.String(64), nullable=True),
        sa.Column("segmentation_id", sa.Integer(), nullable=True),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
    )
    op.create_index(op.f("ix_networks_project_id"), "networks", ["project_id"])
    op.create_table(
        "subnets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("network_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(64), nullable=False),
        sa.Column("gateway_ip", sa.String(64), nullable=True),
        sa.Column("enable_dhcp", sa.Boolean(), nullable=False),
        sa.Column("ipv6_ra_mode", sa.String(16), nullable=True),
        sa.Column("ipv6_address_mode", sa.String(16), nullable=True),
        sa.Column("allocation_pools", sa.JSON(), nullable=False),
        sa.Column("dns_nameservers", sa.JSON(), nullable=False),
        sa.Column("host_routes", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_subnets_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subnets")),
    )
    op.create_index(op.f("ix_subnets_network_id"), "subnets", ["network_id"])
    op.create_index(op.f("ix_subnets_project_id"), "subnets", ["project_id"])
    op.create_table(
        "ports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("network_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("mac_address", sa.String(32), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("device_id", sa.String(255), nullable=False),
        sa.Column("device_owner", sa.String(255), nullable=False),
        sa.Column("host_id", sa.String(255), nullable=False),
        sa.Column("vif_type", sa.String(64), nullable=False),
        sa.Column("vnic_type", sa.String(64), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.Column("security_groups", sa.JSON(), nullable=False),
        sa.Column("allowed_address_pairs", sa.JSON(), nullable=False),
        sa.Column("extra_dhcp_opts", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_ports_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ports")),
        sa.UniqueConstraint("mac_address", name=op.f("uq_ports_mac_address")),
    )
    op.create_index(op.f("ix_ports_device_id"), "ports", ["device_id"])
    op.create_index(op.f("ix_ports_network_id"), "ports", ["network_id"])
    op.create_index(op.f("ix_ports_project_id"), "ports", ["project_id"])
    op.create_table(
        "ip_allocations",
        sa.Column("subnet_id", sa.String(36), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=False),
        sa.Column("port_id", sa.String(36), nullable=False),
        sa.Column("network_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_ip_allocations_port_id_ports")
        ),
        sa.ForeignKeyConstraint(
            ["subnet_id"], ["subnets.id"], name=op.f("fk_ip_allocations_subnet_id_subnets")
        ),
        sa.PrimaryKeyConstraint("subnet_id", "ip_address", name=op.f("pk_ip_allocations")),
    )
    op.create_index(op.f("ix_ip_allocations_network_id"), "ip_allocations", ["network_id"])
    op.create_index(op.f("ix_ip_allocations_port_id"), "ip_allocations", ["port_id"])

    op.create_table(
        "security_groups",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("stateful", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_groups")),
    )
    op.create_index(op.f("ix_security_groups_project_id"), "security_groups", ["project_id"])
    op.create_table(
        "default_security_groups",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("security_group_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name=op.f("fk_default_security_groups_security_group_id_security_groups"),
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_default_security_groups")),
    )
    op.create_table(
        "security_group_rules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("security_group_id", sa.String(36), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("ethertype", sa.String(8), nullable=False),
        sa.Column("protocol", sa.String(40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(64), nullable=True),
        sa.Column("remote_group_id", sa.String(36), nullable=True),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name=op.f("fk_security_group_rules_security_group_id_security_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_group_rules")),
    )
    op.create_index(
        op.f("ix_security_group_rules_project_id"), "security_group_rules", ["project_id"]
    )
    op.create_index(
        op.f("ix_security_group_rules_security_group_id"),
        "security_group_rules",
        ["security_group_id"],
    )
    op.create_table(
        "network_quotas",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_network_quotas")),
    )
    op.create_table(
        "network_quota_locks",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_network_quota_locks")),
    )
    op.create_table(
        "instance_vifs",
        sa.Column("port_id", sa.String(36), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("network_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(255), nullable=True),
        sa.Column("preserve_on_delete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("port_id", name=op.f("pk_instance_vifs")),
    )
    op.create_index(op.f("ix_instance_vifs_instance_uuid"), "instance_vifs", ["instance_uuid"])


def downgrade() -> None:
    for table in (
        "instance_vifs",
        "network_quota_locks",
        "network_quotas",
        "security_group_rules",
        "default_security_groups",
        "security_groups",
        "ip_allocations",
        "ports",
        "subnets",
        "networks",
    ):
        op.drop_table(table)
