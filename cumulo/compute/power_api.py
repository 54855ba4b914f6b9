"""What ``os-stop``, ``os-start`` and ``reboot`` do at the API (Nova's compute API ``stop``,
``force_stop``, ``start`` and ``reboot``).

Each checks, in Nova's order, that the caller may (policy), that the instance
is not locked (an admin may act on a locked one), that it has a host, and
that its state allows the action (``states.STOP`` …, Nova's
``check_instance_state``); then, in one transaction, moves task_state with a
conditional update and records the instance action; after the commit it
casts the work to the instance's host (``power.py``). A refusal is a 409 in
Nova's words.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api import policy
from cumulo.compute import errors, instances, states
from cumulo.compute.instance_actions import db as actions
from cumulo.compute.instance_actions import names
from cumulo.compute.rpcapi import ComputeAPI
from cumulo.context import RequestContext
from cumulo.db import Database
from cumulo.db.models.instances import Instance


class PowerAPI:
    def __init__(self, db: Database, compute_rpcapi: ComputeAPI) -> None:
        self.db = db
        self.compute_rpcapi = compute_rpcapi

    async def stop(self, ctx: RequestContext, instance_uuid: str) -> None:
        async with self.db.write() as session:
            instance = await _get(session, ctx, instance_uuid, "compute:servers:stop")
            host = _check_lock_and_host(ctx, instance)
            await begin_stop(session, ctx, instance, states.STOP)
        await self.compute_rpcapi.stop_instance(ctx, host, instance_uuid)

    async def start(self, ctx: RequestContext, instance_uuid: str) -> None:
        async with self.db.write() as session:
            instance = await _get(session, ctx, instance_uuid, "compute:servers:start")
            host = _check_lock_and_host(ctx, instance)
            await instances.transition(session, instance, states.START, names.START)
            await actions.action_start(session, ctx, instance_uuid, names.START)
        await self.compute_rpcapi.start_instance(ctx, host, instance_uuid)

    async def reboot(
        self, ctx: RequestContext, instance_uuid: str, reboot_type: Literal["SOFT", "HARD"]
    ) -> None:
        async with self.db.write() as session:
            instance = await _get(session, ctx, instance_uuid, "compute:servers:reboot")
            _check_lock(ctx, instance)
            host = await begin_reboot(session, ctx, instance, reboot_type)
        await self.compute_rpcapi.reboot_instance(ctx, host, instance_uuid, reboot_type)


async def begin_reboot(
    session: AsyncSession,
    ctx: RequestContext,
    instance: Instance,
    reboot_type: Literal["SOFT", "HARD"],
) -> str:
    """Move the instance to ``rebooting`` (or ``rebooting_hard``) and record the ``reboot``
    action; the instance's host, where the reboot is done."""
    states.REBOOT.check(
        names.REBOOT,
        instance.uuid,
        instance.vm_state,
        instance.task_state,
        instance.launched_at is not None,
    )
    rule = states.SOFT_REBOOT if reboot_type == "SOFT" else states.HARD_REBOOT
    await instances.transition(session, instance, rule, names.REBOOT)
    host = _check_host(instance)
    await actions.action_start(session, ctx, instance.uuid, names.REBOOT)
    return host


async def begin_stop(
    session: AsyncSession, ctx: RequestContext, instance: Instance, rule: states.Transition
) -> None:
    """Move the instance to ``powering-off`` and record the ``stop`` action.

    ``rule`` is ``states.STOP`` for a user's stop, ``states.FORCE_STOP`` for the
    power-state sync stopping a STOPPED instance whose guest runs (Nova's
    ``force_stop``).
    """
    await instances.transition(session, instance, rule, names.STOP, {"progress": 0})
    await actions.action_start(session, ctx, instance.uuid, names.STOP)


async def _get(
    session: AsyncSession, ctx: RequestContext, instance_uuid: str, rule: str
) -> Instance:
    instance = await instances.get_instance(session, ctx, instance_uuid)
    policy.enforce(ctx, rule, {"project_id": instance.project_id, "user_id": instance.user_id})
    return instance


def _check_lock(ctx: RequestContext, instance: Instance) -> None:
    """Nova's ``check_instance_lock``."""
    if instance.locked and not ctx.is_admin:
        raise errors.InstanceIsLocked(instance_uuid=instance.uuid)


def _check_host(instance: Instance) -> str:
    """Nova's ``check_instance_host``: the action needs the host the guest lives on."""
    if not instance.host:
        raise errors.InstanceNotReady(instance_id=instance.uuid)
    return instance.host


def _check_lock_and_host(ctx: RequestContext, instance: Instance) -> str:
    _check_lock(ctx, instance)
    return _check_host(instance)
