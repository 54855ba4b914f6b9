"""``POST /volumes/{id}/action``: the volume actions cumulo offers, one function each.

| action                   | who    | answer |
|--------------------------|--------|--------|
| os-extend                | member | 202    |
| os-set_bootable          | member | 200    |
| os-update_readonly_flag  | member | 202    |
| os-reset_status          | admin  | 202    |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from cumulo import exception
from cumulo.api import policy
from cumulo.context import RequestContext
from cumulo.runtime import Runtime
from cumulo.volume import errors, records, schemas, service
from cumulo.volume.states import AttachStatus, Status, force

Action = Callable[[Runtime, RequestContext, str, dict[str, Any]], Awaitable[Response]]

RESET_STATUSES = (
    "creating", "available", "deleting", "error", "error_deleting", "error_managing",
    "managing", "attaching", "in-use", "detaching", "maintenance", "reserved",
    "extending", "error_extending",
)  # fmt: skip
"""The statuses an admin may force (Cinder's ``VolumeAdminController.valid_status``)."""


def _args(body: dict[str, Any], name: str) -> dict[str, Any]:
    args = body[name]
    if not isinstance(args, dict):
        schemas.fail(name, args, f"{args!r} is not of type 'object'")
    return args


async def extend(
    runtime: Runtime, ctx: RequestContext, volume_id: str, body: dict[str, Any]
) -> Response:
    args = _args(body, "os-extend")
    if "new_size" not in args:
        schemas.fail("os-extend", args, "'new_size' is a required property")
    new_size = schemas.size_value("new_size", args["new_size"], nullable=False)
    assert new_size is not None
    await service.extend_volume(runtime, ctx, volume_id, new_size)
    return Response(status_code=202)


async def set_bootable(
    runtime: Runtime, ctx: RequestContext, volume_id: str, body: dict[str, Any]
) -> Response:
    args = _args(body, "os-set_bootable")
    if "bootable" not in args:
        schemas.fail("os-set_bootable", args, "'bootable' is a required property")
    bootable = schemas.boolean("bootable", args["bootable"])
    async with runtime.db.write() as session:
        volume = await records.get_volume(session, ctx, volume_id)
        policy.enforce(ctx, "volume:update", {"project_id": volume.project_id})
        volume.bootable = bootable
    return Response(status_code=200)


async def update_readonly_flag(
    runtime: Runtime, ctx: RequestContext, volume_id: str, body: dict[str, Any]
) -> Response:
    args = _args(body, "os-update_readonly_flag")
    if "readonly" not in args:
        schemas.fail("os-update_readonly_flag", args, "'readonly' is a required property")
    readonly = schemas.boolean("readonly", args["readonly"])
    async with runtime.db.write() as session:
        volume = await records.get_volume(session, ctx, volume_id)
        policy.enforce(ctx, "volume:update_readonly_flag", {"project_id": volume.project_id})
        if volume.status != Status.AVAILABLE:
            raise errors.InvalidVolume(
                reason=f"Volume {volume_id} status must be available to update readonly "
                f"flag, but current status is: {volume.status}."
            )
        volume.read_only = readonly
    return Response(status_code=202)


async def reset_status(
    runtime: Runtime, ctx: RequestContext, volume_id: str, body: dict[str, Any]
) -> Response:
    args = _args(body, "os-reset_status")
    values: dict[str, Any] = {}
    if "status" in args:
        if args["status"] not in RESET_STATUSES:
            raise errors.InvalidInput(reason="Must specify a valid status")
        values["status"] = args["status"]
    if "attach_status" in args:
        if args["attach_status"] not in (AttachStatus.ATTACHED, AttachStatus.DETACHED):
            raise errors.InvalidInput(reason="Must specify a valid attach status")
        values["attach_status"] = args["attach_status"]
    if not values:
        raise errors.InvalidInput(
            reason="Must specify 'status', 'attach_status' or 'migration_status' for update."
        )
    async with runtime.db.write() as session:
        volume = await records.get_volume(session, ctx, volume_id)
        policy.enforce(ctx, "volume:reset_status", {"project_id": volume.project_id})
        await force(session, volume_id, **values)
    return Response(status_code=202)


ACTIONS: dict[str, Action] = {
    "os-extend": extend,
    "os-set_bootable": set_bootable,
    "os-update_readonly_flag": update_readonly_flag,
    "os-reset_status": reset_status,
}


async def dispatch(runtime: Runtime, ctx: RequestContext, volume_id: str, body: Any) -> Response:
    if not isinstance(body, dict) or len(body) != 1:
        raise exception.Invalid("Malformed request body")
    name = next(iter(body))
    handler = ACTIONS.get(name)
    if handler is None:
        async with runtime.db.read() as session:
            await records.get_volume(session, ctx, volume_id)
        raise exception.Invalid(f"There is no such action: {name}")
    return await handler(runtime, ctx, volume_id, body)
