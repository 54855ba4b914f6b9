"""Reading and changing instance rows: the conditional updates every step of an action makes.

A step names the state it expects (``expected_task_state``, as Nova's
``instance.save(expected_task_state=…)``) and changes the row only if it is
still there, live and in that state. When it is not, the step lost a race
(a delete, a redelivered message) and must stop: ``update_instance`` then
raises ``UnexpectedTaskState`` or ``InstanceNotFound``.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from cumulo.compute.errors import InstanceNotFound
from cumulo.compute.states import TaskState, Transition, VmState
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.fastpath import Prepared, run
from cumulo.db.models.instances import Instance, InstanceFault
from cumulo.exception import CumuloError

_ANY = object()


class UnexpectedTaskState(CumuloError):
    code = 409
    message = "Unexpected task state: expecting %(expected)s but the actual state is %(actual)s"


class UnexpectedDeletingTaskState(UnexpectedTaskState):
    """The instance is being deleted: the step stops and leaves the rest to the delete."""


def holds_resources() -> ColumnElement[bool]:
    """A live instance that may hold resources (a claim, quota): all of them but an ERROR
    that holds no host, whose build never placed it or gave everything back."""
    return and_(
        Instance.deleted == 0,
        or_(Instance.vm_state != VmState.ERROR, Instance.host.is_not(None)),
    )


async def get_instance(
    session: AsyncSession, ctx: RequestContext | None, uuid: str, *, read_deleted: bool = False
) -> Instance:
    """The live instance ``uuid`` if ``ctx`` may see it (any project for admin or no ctx)."""
    scoped = ctx is not None and not ctx.is_admin
    params = {"uuid": uuid}
    if scoped:
        assert ctx is not None
        if ctx.project_id is None:
            raise InstanceNotFound(instance_id=uuid)
        params["project_id"] = ctx.project_id
    instance = await session.scalar(_get_statement(read_deleted, scoped), params)
    if instance is None:
        raise InstanceNotFound(instance_id=uuid)
    return instance


@functools.lru_cache(maxsize=4)
def _get_statement(read_deleted: bool, scoped: bool) -> Select[Instance]:
    """``get_instance``'s query, built once per shape (see ``_update_statement``)."""
    stmt = select(Instance).where(Instance.uuid == bindparam("uuid"))
    if not read_deleted:
        stmt = stmt.where(Instance.deleted == 0)
    if scoped:
        stmt = stmt.where(Instance.project_id == bindparam("project_id"))
    return stmt


async def update_instance(
    session: AsyncSession,
    uuid: str,
    values: Mapping[str, Any],
    *,
    expected_task_state: Iterable[str | None] | object = _ANY,
    expected_vm_state: Iterable[str] | object = _ANY,
) -> None:
    """Change the live instance's ``values`` if it is in the expected states, else raise.

    Raises ``InstanceNotFound`` when the row is gone or deleted,
    ``UnexpectedDeletingTaskState`` when a delete took it over, and
    ``UnexpectedTaskState`` for any other state.
    """
    task_states: list[str | None] | None = None
    if expected_task_state is not _ANY:
        assert isinstance(expected_task_state, Iterable)
        task_states = list(expected_task_state)
    vm_states: list[str] | None = None
    if expected_vm_state is not _ANY:
        assert isinstance(expected_vm_state, Iterable)
        vm_states = list(expected_vm_state)
    named_task_states = [t for t in task_states if t is not None] if task_states else []
    statement = _update_statement(
        tuple(sorted(values)),
        None if task_states is None else (len(named_task_states), None in task_states),
        None if vm_states is None else len(vm_states),
    )
    params: dict[str, Any] = {f"new_{column}": value for column, value in values.items()}
    params["which_uuid"] = uuid
    params.update((f"task_state_{i}", state) for i, state in enumerate(named_task_states))
    if vm_states is not None:
        params.update((f"vm_state_{i}", state) for i, state in enumerate(vm_states))
    if (await run(session, statement, params)).rowcount:
        return
    row = (
        await session.execute(
            select(Instance.task_state, Instance.vm_state).where(
                Instance.uuid == uuid, Instance.deleted == 0
            )
        )
    ).first()
    if row is None:
        raise InstanceNotFound(instance_id=uuid)
    if row.task_state == TaskState.DELETING:
        raise UnexpectedDeletingTaskState(expected=task_states, actual=row.task_state)
    raise UnexpectedTaskState(
        expected=task_states if task_states is not None else "any",
        actual=f"{row.vm_state}/{row.task_state}",
    )


@functools.lru_cache(maxsize=512)
def _update_statement(
    columns: tuple[str, ...], task_shape: tuple[int, bool] | None, vm_states: int | None
) -> Prepared:
    """The conditional update of ``columns``, built once per shape with every value bound
    at execution: building and keying a statement costs more than running it, and an
    expanding ``IN`` costs more again at each execution, so a shape counts its states
    (``task_shape``: how many named task states, and whether None is one of them)."""
    statement = update(Instance).where(
        Instance.uuid == bindparam("which_uuid"), Instance.deleted == 0
    )
    if task_shape is not None:
        named, is_null = task_shape
        clauses: list[ColumnElement[bool]] = []
        if named:
            clauses.append(
                Instance.task_state.in_([bindparam(f"task_state_{i}") for i in range(named)])
            )
        if is_null:
            clauses.append(Instance.task_state.is_(None))
        statement = statement.where(or_(false(), *clauses))
    if vm_states is not None:
        statement = statement.where(
            Instance.vm_state.in_([bindparam(f"vm_state_{i}") for i in range(vm_states)])
        )
    return Prepared(statement.values({column: bindparam(f"new_{column}") for column in columns}))


async def transition(
    session: AsyncSession,
    instance: Instance,
    rule: Transition,
    action: str,
    values: Mapping[str, Any] | None = None,
) -> None:
    """Start ``action`` on ``instance`` if ``rule`` allows its state (409 otherwise).

    The check reads the row as the caller loaded it; the update repeats the
    check in its ``WHERE``, so a request that raced in between (a delete)
    wins and this one gets ``UnexpectedTaskState``.
    """
    rule.check(
        action,
        instance.uuid,
        instance.vm_state,
        instance.task_state,
        instance.launched_at is not None,
    )
    changes = {"task_state": rule.task_state, **(values or {})}
    await update_instance(
        session,
        instance.uuid,
        changes,
        expected_task_state=rule.task_states,
        expected_vm_state=rule.vm_states if rule.vm_states is not None else _ANY,
    )
    for key, value in changes.items():
        set_committed_value(instance, key, value)


def add_fault(
    session: AsyncSession, instance_uuid: str, exc: BaseException, host: str | None
) -> None:
    """Record why the instance failed (Nova's ``add_instance_fault_from_exc``).

    The code is the error's own (500 for an unexpected one); the details are
    the traceback, kept only for a 500, as Nova keeps them.
    """
    code = exc.code if isinstance(exc, CumuloError) else 500
    message = exc.format_message() if isinstance(exc, CumuloError) else type(exc).__name__
    details = None
    if code == 500:
        details = "".join(traceback.format_exception(exc))
    session.add(
        InstanceFault(
            instance_uuid=instance_uuid,
            code=code,
            message=message[:255],
            details=details,
            host=host,
        )
    )


async def soft_delete(session: AsyncSession, instance_uuid: str) -> bool:
    """Mark the instance deleted (``deleted`` = its id); False if it already was."""
    result = await run(session, _SOFT_DELETE, {"which_uuid": instance_uuid, "now": utcnow()})
    return bool(result.rowcount)


_SOFT_DELETE = Prepared(
    update(Instance)
    .where(Instance.uuid == bindparam("which_uuid"), Instance.deleted == 0)
    .values(
        deleted=Instance.id,
        deleted_at=bindparam("now"),
        terminated_at=bindparam("now"),
        vm_state=VmState.DELETED,
        task_state=None,
        power_state=0,
    )
)
"""``soft_delete``'s update, built once."""
