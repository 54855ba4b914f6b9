"""compute tables: services, nodes, allocations, instances and what hangs off them, server groups

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB, as cumulo.db.base.Timestamp.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("consumer_id", sa.String(length=36), nullable=False),
        sa.Column("node_uuid", sa.String(length=36), nullable=False),
        sa.Column("resource_class", sa.String(length=32), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
        sa.UniqueConstraint(
            "consumer_id",
            "node_uuid",
            "resource_class",
            name=op.f("uq_allocations_consumer_id_node_uuid_resource_class"),
        ),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocations_consumer_id"), ["consumer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_allocations_node_uuid"), ["node_uuid"], unique=False)

    op.create_table(
        "block_device_mapping",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("source_type", sa.String(length=255), nullable=False),
        sa.Column("destination_type", sa.String(length=255), nullable=False),
        sa.Column("boot_index", sa.Integer(), nullable=True),
        sa.Column("device_name", sa.String(length=255), nullable=True),
        sa.Column("device_type", sa.String(length=255), nullable=True),
        sa.Column("disk_bus", sa.String(length=255), nullable=True),
        sa.Column("guest_format", sa.String(length=255), nullable=True),
        sa.Column("delete_on_termination", sa.Boolean(), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("volume_id", sa.String(length=36), nullable=True),
        sa.Column("volume_size", sa.Integer(), nullable=True),
        sa.Column("volume_type", sa.String(length=255), nullable=True),
        sa.Column("no_device", sa.Boolean(), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("attachment_id", sa.String(length=36), nullable=True),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_block_device_mapping")),
    )
    with op.batch_alter_table("block_device_mapping", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_block_device_mapping_instance_uuid"), ["instance_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_block_device_mapping_volume_id"), ["volume_id"], unique=False
        )

    op.create_table(
        "compute_nodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_hostname", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_type", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_version", sa.Integer(), nullable=False),
        sa.Column("host_ip", sa.String(length=64), nullable=False),
        sa.Column("cpu_info", sa.Text(), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("local_gb", sa.Integer(), nullable=False),
        sa.Column("reserved_vcpus", sa.Integer(), nullable=False),
        sa.Column("reserved_memory_mb", sa.Integer(), nullable=False),
        sa.Column("reserved_disk_gb", sa.Integer(), nullable=False),
        sa.Column("cpu_allocation_ratio", sa.Double(), nullable=False),
        sa.Column("ram_allocation_ratio", sa.Double(), nullable=False),
        sa.Column("disk_allocation_ratio", sa.Double(), nullable=False),
        sa.Column("used_vcpus", sa.Integer(), nullable=False),
        sa.Column("used_memory_mb", sa.Integer(), nullable=False),
        sa.Column("used_disk_gb", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("failed_builds", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_nodes")),
        sa.UniqueConstraint(
            "hypervisor_hostname", name=op.f("uq_compute_nodes_hypervisor_hostname")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_nodes_uuid")),
    )
    with op.batch_alter_table("compute_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_nodes_host"), ["host"], unique=False)

    op.create_table(
        "compute_quota_locks",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_compute_quota_locks")),
    )
    op.create_table(
        "compute_services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("binary", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=255), nullable=True),
        sa.Column("forced_down", sa.Boolean(), nullable=False),
        sa.Column("last_seen_up", TIMESTAMP, nullable=True),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_services")),
        sa.UniqueConstraint("host", "binary", name=op.f("uq_compute_services_host_binary")),
    )
    op.create_table(
        "instance_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("start_time", TIMESTAMP, nullable=False),
        sa.Column("finish_time", TIMESTAMP, nullable=True),
        sa.Column("message", sa.String(length=255), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_actions")),
    )
    with op.batch_alter_table("instance_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_instance_actions_instance_uuid_request_id",
            ["instance_uuid", "request_id"],
            unique=False,
        )

    op.create_table(
        "instance_faults",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=255), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_faults")),
    )
    with op.batch_alter_table("instance_faults", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instance_faults_instance_uuid"), ["instance_uuid"], unique=False
        )

    op.create_table(
        "instance_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("policy", sa.String(length=255), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_groups")),
        sa.UniqueConstraint("uuid", name=op.f("uq_instance_groups_uuid")),
    )
    with op.batch_alter_table("instance_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instance_groups_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("display_description", sa.String(length=255), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("reservation_id", sa.String(length=255), nullable=False),
        sa.Column("launch_index", sa.Integer(), nullable=False),
        sa.Column("image_ref", sa.String(length=255), nullable=False),
        sa.Column("flavor_id", sa.String(length=255), nullable=False),
        sa.Column("flavor", sa.JSON(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("root_gb", sa.Integer(), nullable=False),
        sa.Column("ephemeral_gb", sa.Integer(), nullable=False),
        sa.Column("vm_state", sa.String(length=255), nullable=False),
        sa.Column("task_state", sa.String(length=255), nullable=True),
        sa.Column("power_state", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("node", sa.String(length=255), nullable=True),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("pinned_availability_zone", sa.String(length=255), nullable=True),
        sa.Column("key_name", sa.String(length=255), nullable=True),
        sa.Column("key_data", sa.Text(), nullable=True),
        sa.Column("user_data", sa.Text(), nullable=True),
        sa.Column("config_drive", sa.String(length=255), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("system_metadata", sa.JSON(), nullable=False),
        sa.Column("security_groups", sa.JSON(), nullable=False),
        sa.Column("access_ip_v4", sa.String(length=39), nullable=True),
        sa.Column("access_ip_v6", sa.String(length=39), nullable=True),
        sa.Column("auto_disk_config", sa.Boolean(), nullable=False),
        sa.Column("root_device_name", sa.String(length=255), nullable=True),
        sa.Column("kernel_id", sa.String(length=255), nullable=True),
        sa.Column("ramdisk_id", sa.String(length=255), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("locked_by", sa.String(length=16), nullable=True),
        sa.Column("locked_reason", sa.String(length=255), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("launched_at", TIMESTAMP, nullable=True),
        sa.Column("terminated_at", TIMESTAMP, nullable=True),
        sa.Column("network_info", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
        sa.UniqueConstraint("uuid", name=op.f("uq_instances_uuid")),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instances_host"), ["host"], unique=False)
        batch_op.create_index(
            "ix_instances_project_id_deleted", ["project_id", "deleted"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instances_reservation_id"), ["reservation_id"], unique=False
        )

    op.create_table(
        "request_specs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_specs")),
        sa.UniqueConstraint("instance_uuid", name=op.f("uq_request_specs_instance_uuid")),
    )
    op.create_table(
        "instance_actions_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=255), nullable=False),
        sa.Column("start_time", TIMESTAMP, nullable=False),
        sa.Column("finish_time", TIMESTAMP, nullable=True),
        sa.Column("result", sa.String(length=255), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["instance_actions.id"],
            name=op.f("fk_instance_actions_events_action_id_instance_actions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_actions_events")),
    )
    with op.batch_alter_table("instance_actions_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instance_actions_events_action_id"), ["action_id"], unique=False
        )

    op.create_table(
        "instance_group_member",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["instance_groups.id"],
            name=op.f("fk_instance_group_member_group_id_instance_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_group_member")),
        sa.UniqueConstraint("instance_uuid", name=op.f("uq_instance_group_member_instance_uuid")),
    )
    with op.batch_alter_table("instance_group_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instance_group_member_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "tags",
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["instances.uuid"],
            name=op.f("fk_tags_instance_uuid_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_uuid", "tag", name=op.f("pk_tags")),
    )


def downgrade() -> None:
    op.drop_table("tags")
    with op.batch_alter_table("instance_group_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instance_group_member_group_id"))

    op.drop_table("instance_group_member")
    with op.batch_alter_table("instance_actions_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instance_actions_events_action_id"))

    op.drop_table("instance_actions_events")
    op.drop_table("request_specs")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_reservation_id"))
        batch_op.drop_index("ix_instances_project_id_deleted")
        batch_op.drop_index(batch_op.f("ix_instances_host"))

    op.drop_table("instances")
    with op.batch_alter_table("instance_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instance_groups_project_id"))

    op.drop_table("instance_groups")
    with op.batch_alter_table("instance_faults", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instance_faults_instance_uuid"))

    op.drop_table("instance_faults")
    with op.batch_alter_table("instance_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_instance_actions_instance_uuid_request_id")

    op.drop_table("instance_actions")
    op.drop_table("compute_services")
    op.drop_table("compute_quota_locks")
    with op.batch_alter_table("compute_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_nodes_host"))

    op.drop_table("compute_nodes")
    with op.batch_alter_table("block_device_mapping", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_block_device_mapping_volume_id"))
        batch_op.drop_index(batch_op.f("ix_block_device_mapping_instance_uuid"))

    op.drop_table("block_device_mapping")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocations_node_uuid"))
        batch_op.drop_index(batch_op.f("ix_allocations_consumer_id"))

    op.drop_table("allocations")
