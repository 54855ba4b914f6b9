"""The scheduler's side of the bus: ``select_destinations`` (Nova's ``FilterScheduler``).

For one request: load every node's state once; then for each instance filter
the nodes, weigh them, and claim on the best (``claims.claim``, its own short
transaction). A claim that fails means the snapshot was stale (another
scheduler took the room first): the next host in the order is tried. What an
instance claimed is consumed in the snapshot, so the next instance of the same
request sees it, and a group's next member sees where the last one went.

All or nothing, as Nova: when one instance finds no host, every claim this
request made is released and ``NoValidHost`` is raised. A request delivered
twice (its first worker died after claiming) finds its instances' claims
already held and answers with them instead of claiming again.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from cumulo.context import RequestContext
from cumulo.manager import Manager
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler
from cumulo.runtime import Runtime
from cumulo.scheduler import claims
from cumulo.scheduler.errors import NoValidHost
from cumulo.scheduler.filters import filtered
from cumulo.scheduler.host_manager import host_states
from cumulo.scheduler.host_state import HostState, Resources
from cumulo.scheduler.messages import SelectDestinations, Selection, Selections
from cumulo.scheduler.request_spec import RequestSpec
from cumulo.scheduler.weighers import configured, ranked

LOG = logging.getLogger(__name__)

NOT_ENOUGH_HOSTS = "There are not enough hosts available."


def selection(host: HostState) -> Selection:
    return Selection(
        host=host.host,
        nodename=host.nodename,
        node_uuid=host.node_uuid,
        availability_zone=host.availability_zone,
    )


@dataclass
class _Cycle:
    """One request's scheduling state: the snapshot, and what this request changed."""

    spec: RequestSpec
    hosts: list[HostState]
    held: dict[str, dict[str, Resources]]
    """Claims the instances already hold (a redelivered request), by instance uuid."""
    claimed: list[str] = field(default_factory=list)
    """Instances this request claimed for: released again if the request fails."""
    stale: set[str] = field(default_factory=set)
    """Nodes a claim failed on: fuller than the snapshot says, not tried again."""
    removed: Counter[str] = field(default_factory=Counter)

    def placed(self, host: HostState, instance_uuid: str, wanted: Resources | None) -> None:
        if wanted is not None:
            host.consume(wanted, instance_uuid)
        else:
            host.instances.add(instance_uuid)
        group = self.spec.group
        if group is not None:
            group.hosts.append(host.host)
            if instance_uuid not in group.members:
                group.members.append(instance_uuid)


class SchedulerManager(Manager):
    topic = "scheduler"

    def __init__(self, runtime: Runtime, rng: random.Random | None = None) -> None:
        super().__init__(runtime)
        self.settings = runtime.settings.scheduler
        self.weighers = configured(self.settings)
        self.rng = rng or random.Random()

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {SelectDestinations: self.select_destinations}

    async def select_destinations(self, ctx: RequestContext, msg: SelectDestinations) -> Selections:
        spec = msg.spec.model_copy(update={"instance_uuids": msg.instance_uuids}, deep=True)
        async with self.runtime.db.read() as session:
            hosts = await host_states(session, self.runtime.settings, spec)
            held = await claims.claims_held(session, msg.instance_uuids)
        cycle = _Cycle(spec=spec, hosts=hosts, held=held)
        answer: list[list[Selection]] = []
        try:
            for instance_uuid in msg.instance_uuids:
                chosen = await self._schedule_one(cycle, instance_uuid)
                if chosen is None:
                    reason = NOT_ENOUGH_HOSTS if answer else ""
                    LOG.info(
                        "No host for %s of %d hosts (%s)",
                        instance_uuid,
                        len(hosts),
                        dict(cycle.removed) or "none passed",
                    )
                    raise NoValidHost(reason=reason)
                answer.append(chosen if msg.return_alternates else chosen[:1])
        except BaseException:
            await self._release(cycle.claimed)
            raise
        return Selections(hosts=answer)

    async def _schedule_one(self, cycle: _Cycle, instance_uuid: str) -> list[Selection] | None:
        """The instance's claimed host followed by its alternates, or None if nothing fits."""
        spec = cycle.spec
        wanted = spec.resources()
        passing, removed = filtered(cycle.hosts, spec, wanted)
        cycle.removed = removed
        candidates = [h for h in passing if h.node_uuid not in cycle.stale]
        order = ranked(candidates, spec, self.settings.host_subset_size, self.rng, self.weighers)
        held = cycle.held.get(instance_uuid)
        if held:
            return self._already_held(cycle, instance_uuid, held, order)
        for index, host in enumerate(order):
            if await self._claim(instance_uuid, host, wanted, spec):
                cycle.claimed.append(instance_uuid)
                cycle.placed(host, instance_uuid, wanted)
                alternates = order[index + 1 : index + 1 + spec.num_alternates]
                return [selection(h) for h in (host, *alternates)]
            cycle.stale.add(host.node_uuid)
        return None

    def _already_held(
        self,
        cycle: _Cycle,
        instance_uuid: str,
        held: dict[str, Resources],
        order: list[HostState],
    ) -> list[Selection] | None:
        node_uuid = next(iter(held))
        host = next((h for h in cycle.hosts if h.node_uuid == node_uuid), None)
        if host is None:
            return None
        LOG.info("Instance %s already holds a claim on %s; keeping it", instance_uuid, host.host)
        cycle.placed(host, instance_uuid, None)
        alternates = [h for h in order if h is not host][: cycle.spec.num_alternates]
        return [selection(h) for h in (host, *alternates)]

    async def _claim(
        self, instance_uuid: str, host: HostState, wanted: Resources, spec: RequestSpec
    ) -> bool:
        async with self.runtime.db.write() as session:
            return await claims.claim(
                session,
                instance_uuid,
                host.node_uuid,
                wanted,
                spec.project_id,
                spec.user_id or "",
            )

    async def _release(self, instance_uuids: list[str]) -> None:
        for instance_uuid in instance_uuids:
            async with self.runtime.db.write() as session:
                await claims.release(session, instance_uuid)
