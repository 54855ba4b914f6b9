"""networks, subnets, ports, IP allocations, routers, floating IPs (Neutron v2.0): tables.

List-valued attributes Neutron keeps in side tables (DNS servers, host routes,
allocation pools, tags, address pairs, DHCP options) are JSON columns here:
they are only ever read and written whole. IP allocations are rows of their
own, with the subnet and address as primary key, so no address is handed out
twice on any engine.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, Timestamp, TimestampMixin, utcnow, uuid_column


class Network(TimestampMixin, Base):
    __tablename__ = "networks"

    id: Mapped[str] = uuid_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer, default=1450)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    network_type: Mapped[str] = mapped_column(String(32), default="vxlan")
    physical_network: Mapped[str | None] = mapped_column(String(64), default=None)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, default=None)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class Subnet(TimestampMixin, Base):
    __tablename__ = "subnets"

    id: Mapped[str] = uuid_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(16), default=None)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(16), default=None)
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, default=list)
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class Port(TimestampMixin, Base):
    __tablename__ = "ports"

    id: Mapped[str] = uuid_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    mac_address: Mapped[str] = mapped_column(String(32), unique=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    host_id: Mapped[str] = mapped_column(String(255), default="")
    vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    security_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_address_pairs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    extra_dhcp_opts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class IPAllocation(Base):
    """One address of one port; the primary key makes each address single-use."""

    __tablename__ = "ip_allocations"

    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id"), index=True)
    network_id: Mapped[str] = mapped_column(String(36), index=True)


class SecurityGroup(TimestampMixin, Base):
    __tablename__ = "security_groups"

    id: Mapped[str] = uuid_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class DefaultSecurityGroup(Base):
    """Which group is a project's ``default``; the key makes it one per project."""

    __tablename__ = "default_security_groups"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(ForeignKey("security_groups.id"))


class SecurityGroupRule(TimestampMixin, Base):
    __tablename__ = "security_group_rules"

    id: Mapped[str] = uuid_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    security_group_id: Mapped[str] = mapped_column(ForeignKey("security_groups.id"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8), default="IPv4")
    protocol: Mapped[str | None] = mapped_column(String(40), default=None)
    port_range_min: Mapped[int | None] = mapped_column(Integer, default=None)
    port_range_max: Mapped[int | None] = mapped_column(Integer, default=None)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), default=None)
    remote_group_id: Mapped[str | None] = mapped_column(String(36), default=None)
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class InstanceVif(Base):
    """A port the compute-facing API attached to an instance (Nova's ``virtual_interfaces``).

    ``preserve_on_delete`` marks a port the user brought: deallocation unbinds
    it instead of deleting it. ``position`` keeps the NICs in requested order.
    No foreign key to ``ports``: a user may delete an attached port.
    """

    __tablename__ = "instance_vifs"

    port_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    network_id: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(Integer)
    tag: Mapped[str | None] = mapped_column(String(255), default=None)
    preserve_on_delete: Mapped[bool] = mapped_column(Boolean, default=False)


class QuotaLock(Base):
    """One row per project and resource, locked while a create counts usage.

    On PostgreSQL and MariaDB concurrent creates would otherwise each count the
    same usage and all pass the limit; SQLite's writers are serialised anyway.
    """

    __tablename__ = "network_quota_locks"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)


class NetworkQuota(Base):
    """A project's limit for one resource where it differs from the default."""

    __tablename__ = "network_quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(Integer)


class Router(TimestampMixin, Base):
    """A Neutron router. Its interfaces are ports with ``device_owner``
    ``network:router_interface`` and ``device_id`` the router's id; its gateway is the port
    ``gw_port_id`` on ``external_network_id``."""

    __tablename__ = "routers"

    id: Mapped[str] = uuid_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    external_network_id: Mapped[str | None] = mapped_column(String(36), default=None)
    gw_port_id: Mapped[str | None] = mapped_column(String(36), default=None)
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    """The compute host whose data plane runs the router (the first one that needed it)."""
    routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class FloatingIP(TimestampMixin, Base):
    """A floating IP: an address of a port on an external network (``floating_port_id``),
    translated by a router to ``fixed_ip_address`` of ``fixed_port_id`` when associated.

    The unique key lets one fixed address have one floating IP per external network.
    """

    __tablename__ = "floatingips"
    __table_args__ = (UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address"),)

    id: Mapped[str] = uuid_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    floating_network_id: Mapped[str] = mapped_column(String(36))
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    floating_port_id: Mapped[str] = mapped_column(String(36))
    fixed_port_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    router_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    description: Mapped[str] = mapped_column(String(255), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class VxlanAllocation(Base):
    """Which VXLAN network identifier a network's segment uses; the key makes it one each."""

    __tablename__ = "vxlan_allocations"

    vni: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    network_id: Mapped[str] = mapped_column(String(36), unique=True)


class NetworkAgent(Base):
    """A host's data plane: the address its VXLAN tunnels start from (Neutron's agent
    ``tunneling_ip``)."""

    __tablename__ = "network_agents"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    local_ip: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, default=utcnow, onupdate=utcnow
    )
