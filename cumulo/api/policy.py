"""Who may do what: every rule of every API, in one table.

A rule is a small predicate over the caller's context and the target (the
thing acted on, as a dict with ``project_id``/``user_id``); rules combine with
``|`` and ``&``. Handlers call ``enforce(ctx, "compute:flavors:create",
target)``; nothing else decides access. The defaults follow OpenStack's
current ("secure RBAC") defaults: ``admin`` may do everything, ``member``
may change what its project owns, ``reader`` may look at it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cumulo.context import RequestContext
from cumulo.exception import PolicyNotAuthorized

Target = Mapping[str, Any]


@dataclass(frozen=True)
class Rule:
    check: Callable[[RequestContext, Target], bool]
    text: str

    def __call__(self, ctx: RequestContext, target: Target) -> bool:
        return self.check(ctx, target)

    def __or__(self, other: Rule) -> Rule:
        return Rule(lambda c, t: self(c, t) or other(c, t), f"({self.text} or {other.text})")

    def __and__(self, other: Rule) -> Rule:
        return Rule(lambda c, t: self(c, t) and other(c, t), f"({self.text} and {other.text})")


def role(name: str) -> Rule:
    return Rule(lambda c, _t: name in c.roles, f"role:{name}")


ANYONE = Rule(lambda c, _t: c.user_id is not None, "authenticated")
ADMIN = role("admin")
MEMBER = role("member")
READER = role("reader")


def _same(attr: str, key: str, text: str) -> Rule:
    """The caller's ``attr`` is set and equals the target's ``key``."""

    def check(c: RequestContext, t: Target) -> bool:
        mine = getattr(c, attr)
        return mine is not None and t.get(key) == mine

    return Rule(check, text)


OWN_DOMAIN = _same("domain_id", "id", "domain_id:%(id)s")
OWN_PROJECT = _same("project_id", "id", "project_id:%(id)s")
SELF = _same("user_id", "id", "user_id:%(id)s")

PROJECT_OWNER = _same("project_id", "project_id", "project_id:%(project_id)s")
USER_OWNER = _same("user_id", "user_id", "user_id:%(user_id)s")
PROJECT_READER = READER & PROJECT_OWNER
PROJECT_MEMBER = MEMBER & PROJECT_OWNER
ADMIN_OR_PROJECT_READER = ADMIN | PROJECT_READER
ADMIN_OR_PROJECT_MEMBER = ADMIN | PROJECT_MEMBER
ADMIN_OR_OWNER_USER = ADMIN | USER_OWNER

RULES: dict[str, Rule] = {
    # identity (Keystone v3)
    "identity:get_domain": ADMIN | OWN_DOMAIN,
    "identity:list_domains": ADMIN,
    "identity:create_domain": ADMIN,
    "identity:update_domain": ADMIN,
    "identity:delete_domain": ADMIN,
    "identity:get_project": ADMIN | OWN_PROJECT,
    "identity:list_projects": ADMIN,
    "identity:list_user_projects": ADMIN_OR_OWNER_USER,
    "identity:create_project": ADMIN,
    "identity:update_project": ADMIN,
    "identity:delete_project": ADMIN,
    "identity:get_user": ADMIN | SELF,
    "identity:list_users": ADMIN,
    "identity:create_user": ADMIN,
    "identity:update_user": ADMIN,
    "identity:delete_user": ADMIN,
    "identity:validate_token": ADMIN_OR_OWNER_USER,
    "identity:check_token": ADMIN_OR_OWNER_USER,
    "identity:revoke_token": ADMIN_OR_OWNER_USER,
    "identity:get_role": ADMIN,
    "identity:list_roles": ADMIN,
    "identity:create_role": ADMIN,
    "identity:update_role": ADMIN,
    "identity:delete_role": ADMIN,
    "identity:list_role_assignments": ADMIN,
    "identity:check_grant": ADMIN,
    "identity:list_grants": ADMIN,
    "identity:create_grant": ADMIN,
    "identity:revoke_grant": ADMIN,
    "identity:list_services": ADMIN,
    "identity:get_service": ADMIN,
    "identity:create_service": ADMIN,
    "identity:update_service": ADMIN,
    "identity:delete_service": ADMIN,
    "identity:list_endpoints": ADMIN,
    "identity:get_endpoint": ADMIN,
    "identity:create_endpoint": ADMIN,
    "identity:update_endpoint": ADMIN,
    "identity:delete_endpoint": ADMIN,
    "identity:list_regions": ANYONE,
    "identity:get_region": ANYONE,
    "identity:create_region": ADMIN,
    "identity:delete_region": ADMIN,
    # compute (Nova)
    "compute:flavors:index": ANYONE,
    "compute:flavors:show": ANYONE,
    "compute:flavors:create": ADMIN,
    "compute:flavors:update": ADMIN,
    "compute:flavors:delete": ADMIN,
    "compute:flavors:list_all": ADMIN,
    "compute:flavor_extra_specs:index": ANYONE,
    "compute:flavor_extra_specs:show": ANYONE,
    "compute:flavor_extra_specs:create": ADMIN,
    "compute:flavor_extra_specs:update": ADMIN,
    "compute:flavor_extra_specs:delete": ADMIN,
    "compute:flavor_access:index": ADMIN,
    "compute:flavor_access:add_tenant_access": ADMIN,
    "compute:flavor_access:remove_tenant_access": ADMIN,
    "compute:keypairs:index": ADMIN_OR_OWNER_USER,
    "compute:keypairs:show": ADMIN_OR_OWNER_USER,
    "compute:keypairs:create": ADMIN_OR_OWNER_USER,
    "compute:keypairs:delete": ADMIN_OR_OWNER_USER,
    "compute:limits": ANYONE,
    "compute:limits:other_project": ADMIN,
    "compute:network:attach_external_network": ADMIN,
    "compute:quota_sets:show": ADMIN_OR_PROJECT_READER,
    "compute:quota_sets:detail": ADMIN_OR_PROJECT_READER,
    "compute:quota_sets:defaults": ANYONE,
    "compute:quota_sets:update": ADMIN,
    "compute:quota_sets:delete": ADMIN,
    "compute:availability_zone:list": ANYONE,
    "compute:availability_zone:detail": ADMIN,
    "compute:servers:index": ADMIN_OR_PROJECT_READER,
    "compute:servers:detail": ADMIN_OR_PROJECT_READER,
    "compute:servers:index:get_all_tenants": ADMIN,
    "compute:servers:allow_all_filters": ADMIN,
    "compute:servers:show": ADMIN_OR_PROJECT_READER,
    "compute:servers:show:host_status": ADMIN,
    "compute:servers:show:extended_attributes": ADMIN,
    "compute:servers:create": ADMIN_OR_PROJECT_MEMBER,
    "compute:servers:create:forced_host": ADMIN,
    "compute:servers:create:requested_destination": ADMIN,
    "compute:servers:create:zero_disk_flavor": ADMIN,
    "compute:servers:create:attach_volume": ADMIN_OR_PROJECT_MEMBER,
    "compute:servers:create:attach_network": ADMIN_OR_PROJECT_MEMBER,
    "compute:servers:update": ADMIN_OR_PROJECT_MEMBER,
    "compute:servers:delete": ADMIN_OR_PROJECT_MEMBER,
    "compute:servers:stop": ADMIN_OR_PROJECT_MEMBER,
    "compute:servers:start": ADMIN_OR_PROJECT_MEMBER,
    "compute:servers:reboot": ADMIN_OR_PROJECT_MEMBER,
    "compute:server_groups:index": ADMIN_OR_PROJECT_READER,
    "compute:server_groups:index:all_projects": ADMIN,
    "compute:server_groups:show": ADMIN_OR_PROJECT_READER,
    "compute:server_groups:create": ADMIN_OR_PROJECT_MEMBER,
    "compute:server_groups:delete": ADMIN_OR_PROJECT_MEMBER,
    "compute:instance_actions:list": ADMIN_OR_PROJECT_READER,
    "compute:instance_actions:show": ADMIN_OR_PROJECT_READER,
    "compute:instance_actions:events": ADMIN,
    "compute:instance_actions:events:details": ADMIN,
    "compute:aggregates:index": ADMIN,
    "compute:hypervisors:list": ADMIN,
    "compute:hypervisors:list-detail": ADMIN,
    "compute:hypervisors:show": ADMIN,
    "compute:hypervisors:uptime": ADMIN,
    "compute:hypervisors:statistics": ADMIN,
    "compute:hypervisors:search": ADMIN,
    "compute:hypervisors:servers": ADMIN,
    "compute:services:list": ADMIN,
    "compute:services:update": ADMIN,
    "compute:services:delete": ADMIN,
    # volume (Cinder)
    "volume:limits": ADMIN_OR_PROJECT_READER,
    "volume:create": ADMIN_OR_PROJECT_MEMBER,
    "volume:get": ADMIN_OR_PROJECT_READER,
    "volume:get_all": ADMIN_OR_PROJECT_READER,
    "volume:update": ADMIN_OR_PROJECT_MEMBER,
    "volume:delete": ADMIN_OR_PROJECT_MEMBER,
    "volume:extend": ADMIN_OR_PROJECT_MEMBER,
    "volume:update_readonly_flag": ADMIN_OR_PROJECT_MEMBER,
    "volume:reset_status": ADMIN,
    "volume:attachment_create": ADMIN_OR_PROJECT_MEMBER,
    "volume:attachment_update": ADMIN_OR_PROJECT_MEMBER,
    "volume:attachment_complete": ADMIN_OR_PROJECT_MEMBER,
    "volume:attachment_delete": ADMIN_OR_PROJECT_MEMBER,
    "volume:attachment_get": ADMIN_OR_PROJECT_READER,
    "volume:attachment_get_all": ADMIN_OR_PROJECT_READER,
    "volume:types:list": ANYONE,
    "volume:types:show": ANYONE,
    "volume:types:create": ADMIN,
    "volume:types:delete": ADMIN,
    "volume:availability_zone:list": ANYONE,
    "volume:quota:show": ADMIN_OR_PROJECT_READER,
    "volume:quota:update": ADMIN,
    "volume:quota:delete": ADMIN,
    # network (Neutron)
    "network:create": ADMIN_OR_PROJECT_MEMBER,
    "network:update": ADMIN_OR_PROJECT_MEMBER,
    "network:delete": ADMIN_OR_PROJECT_MEMBER,
    "network:shared": ADMIN,
    "network:router:external": ADMIN,
    "network:provider": ADMIN,
    "network:binding": ADMIN,
    "network:router:external_fixed_ips": ADMIN,
    "network:router:enable_snat": ADMIN,
    "network:floatingip:address": ADMIN,
    "network:quota:show": ADMIN | PROJECT_OWNER,
    "network:quota:update": ADMIN,
    # image (Glance v2)
    "image:get_images": ANYONE,
    "image:get_image": ANYONE,
    "image:add_image": ADMIN | MEMBER,
    "image:modify_image": ADMIN_OR_PROJECT_MEMBER,
    "image:delete_image": ADMIN_OR_PROJECT_MEMBER,
    "image:upload_image": ADMIN_OR_PROJECT_MEMBER,
    "image:download_image": ANYONE,
    "image:publicize_image": ADMIN,
    "image:set_owner": ADMIN,
    "image:deactivate": ADMIN,
    "image:reactivate": ADMIN,
    "image:add_member": ADMIN_OR_PROJECT_MEMBER,
    "image:delete_member": ADMIN_OR_PROJECT_MEMBER,
}


def check(ctx: RequestContext, action: str, target: Target | None = None) -> bool:
    """Whether ``ctx`` may perform ``action`` on ``target``. Unknown actions are denied."""
    rule = RULES.get(action)
    if rule is None:
        return False
    return rule(ctx, target or {})


def enforce(ctx: RequestContext, action: str, target: Target | None = None) -> None:
    """Raise ``PolicyNotAuthorized`` (403) unless ``ctx`` may perform ``action``."""
    if not check(ctx, action, target):
        raise PolicyNotAuthorized(action=action)
