"""The late check of a server group's policy on the host building one of its members
(Nova's ``_validate_instance_group_policy``): two schedulers placing members of one
group at once may each have seen a host that no longer fits the policy."""

from __future__ import annotations

from sqlalchemy import select

from cumulo.compute.errors import RescheduledException
from cumulo.db import Database
from cumulo.db.models.instances import Instance, ServerGroup, ServerGroupMember
from cumulo.scheduler.request_spec import RequestSpec


async def validate_instance_group_policy(
    db: Database, host: str, uuid: str, spec: RequestSpec
) -> None:
    """Reschedule ``uuid`` when building it on ``host`` would break its group's
    (anti-)affinity, given where the other members landed; nothing for an instance the
    request put in no group (Nova's ``group`` hint)."""
    if spec.group is None:
        return
    async with db.read() as session:
        group = await session.scalar(
            select(ServerGroup)
            .join(ServerGroupMember, ServerGroupMember.group_id == ServerGroup.id)
            .where(ServerGroupMember.instance_uuid == uuid)
        )
        if group is None or group.policy not in ("affinity", "anti-affinity"):
            return
        members = [m.instance_uuid for m in group.members if m.instance_uuid != uuid]
        hosts = list(
            await session.scalars(
                select(Instance.host).where(
                    Instance.uuid.in_(members),
                    Instance.deleted == 0,
                    Instance.host.is_not(None),
                )
            )
        )
    if group.policy == "anti-affinity":
        limit = int(group.rules.get("max_server_per_host", 1))
        if hosts.count(host) >= limit:
            reason = "Anti-affinity instance group policy was violated."
            raise RescheduledException(instance_uuid=uuid, reason=reason)
    elif any(h != host for h in hosts):
        reason = "Affinity instance group policy was violated."
        raise RescheduledException(instance_uuid=uuid, reason=reason)
