"""Running guests whose NIC lost its tap are rebooted hard: the repair of a tap deleted
by hand.

QEMU opens a NIC's tap once, when the guest starts. A tap deleted under a running
guest takes the NIC's wire with it, and the tap the data plane makes again (at its
next repair, or on this host's next plug) is a new device that no QEMU holds: the
guest's NIC stays cut. Only a new QEMU opens it again, so this job does what an
operator does in Nova, whose hard reboot plugs the VIFs again: it reboots the guest
hard, through the reboot path, recorded as a ``reboot`` action the user sees in
``openstack server event list``.

A tap counts as lost when it is missing or not held (no carrier) for two rounds in a
row, under an instance that is active, running and has no task, and whose guest the
hypervisor still says is running (a guest that shut itself down has let its taps go
too; the power-state sync settles that one).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from cumulo.compute import power_api
from cumulo.compute.instances import get_instance
from cumulo.compute.locks import InstanceLocks
from cumulo.compute.power import PowerActions, get_power_state
from cumulo.compute.states import PowerState, VmState
from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.db.models.instances import Instance
from cumulo.exception import CumuloError
from cumulo.network.agent.data_plane import DataPlane

LOG = logging.getLogger(__name__)


class TapRepair:
    def __init__(
        self,
        db: Database,
        host: str,
        data_plane: DataPlane,
        locks: InstanceLocks,
        power: PowerActions,
    ) -> None:
        self.db = db
        self.host = host
        self.data_plane = data_plane
        self.locks = locks
        self.power = power
        self._lost_before: set[str] = set()
        """Instances that had a lost tap at the last round."""

    async def repair_lost_taps(self) -> list[str]:
        """One round: the uuids of the instances rebooted."""
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(Instance.uuid, Instance.network_info).where(
                        Instance.host == self.host,
                        Instance.deleted == 0,
                        Instance.vm_state == VmState.ACTIVE,
                        Instance.task_state.is_(None),
                        Instance.power_state == PowerState.RUNNING,
                    )
                )
            ).all()
        if not rows:
            self._lost_before = set()
            return []
        held = await self.data_plane.held_taps()
        lost = {
            uuid: taps
            for uuid, network_info in rows
            if (taps := [v["devname"] for v in network_info or () if v["devname"] not in held])
        }
        cut, self._lost_before = lost.keys() & self._lost_before, set(lost)
        rebooted = []
        for uuid in sorted(cut):
            if await self._reboot(uuid, lost[uuid]):
                rebooted.append(uuid)
        return rebooted

    async def _reboot(self, uuid: str, taps: list[str]) -> bool:
        if self.locks.busy(uuid):
            return False
        ctx = RequestContext.admin_context()
        async with self.locks.hold(uuid):
            try:
                async with self.db.read() as session:
                    instance = await get_instance(session, None, uuid)
                if await get_power_state(self.power.driver, instance) != PowerState.RUNNING:
                    return False
                async with self.db.write() as session:
                    await power_api.begin_reboot(session, ctx, instance, "HARD")
            except CumuloError as exc:  # deleted, or an action came first
                LOG.info("Not rebooting %s for its lost taps: %s", uuid, exc.format_message())
                return False
            LOG.warning(
                "The guest of %s lost its tap %s (deleted under it?): rebooting it hard",
                uuid, ", ".join(taps),
            )  # fmt: skip
            self._lost_before.discard(uuid)
            await self.power.do_reboot_instance(ctx, uuid, "HARD")
        return True
