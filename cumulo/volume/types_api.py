"""``/v3/{project_id}/types`` (with Cinder's ``__DEFAULT__`` type) and ``/os-availability-zone``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from cumulo import exception
from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.context import RequestContext
from cumulo.db.engine import conflict_on_duplicate
from cumulo.db.models.volume import Volume, VolumeType
from cumulo.volume import errors, http, records, schemas, views

router = APIRouter(prefix="/v3/{project_id}")


@router.get("/types")
async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "volume:types:list")
    stmt = select(VolumeType).order_by(VolumeType.created_at, VolumeType.id)
    if not ctx.is_admin:
        stmt = stmt.where(VolumeType.is_public.is_(True))
    async with http.runtime(request).db.read() as session:
        rows = list(await session.scalars(stmt))
    return JSON({"volume_types": [views.volume_type(t, ctx) for t in rows]})


@router.get("/types/default")
async def default(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "volume:types:show")
    async with http.runtime(request).db.read() as session:
        vtype = await records.default_type(session)
    return JSON({"volume_type": views.volume_type(vtype, ctx)})


@router.get("/types/{type_id}")
async def show(type_id: str, request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "volume:types:show")
    async with http.runtime(request).db.read() as session:
        vtype = await records.get_type(session, type_id)
    if not vtype.is_public and not ctx.is_admin:
        raise errors.VolumeTypeNotFound(volume_type_id=type_id)
    return JSON({"volume_type": views.volume_type(vtype, ctx)})


@router.post("/types")
async def create(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "volume:types:create")
    args = schemas.require_object(await http.body(request), "volume_type")
    name = args.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        schemas.fail("name", name, f"{name!r} is not a valid volume type name")
    description = schemas.optional_string("description", args.get("description"))
    is_public = schemas.boolean(
        "os-volume-type-access:is_public", args.get("os-volume-type-access:is_public", True)
    )
    extra_specs = schemas.metadata("extra_specs", args.get("extra_specs"))
    vtype = VolumeType(
        name=name.strip(), description=description, is_public=is_public, extra_specs=extra_specs
    )
    async with conflict_on_duplicate(f"Volume Type {name} already exists."):
        async with http.runtime(request).db.write() as session:
            if await session.scalar(select(VolumeType.id).where(VolumeType.name == name.strip())):
                raise errors.VolumeTypeExists(id=name)
            session.add(vtype)
    return JSON({"volume_type": views.volume_type(vtype, ctx)})


@router.delete("/types/{type_id}", status_code=202)
async def delete(
    type_id: str, request: Request, ctx: RequestContext = Depends(http.caller)
) -> Response:
    policy.enforce(ctx, "volume:types:delete")
    async with http.runtime(request).db.write() as session:
        vtype = await records.get_type(session, type_id)
        if vtype.name == records.DEFAULT_TYPE:
            raise exception.Invalid("Default volume type can not be deleted.")
        used = await session.scalar(
            select(func.count(Volume.id)).where(Volume.volume_type_id == type_id)
        )
        if used:
            raise exception.Invalid(
                f"Volume Type {type_id} deletion is not allowed with volumes present with the type."
            )
        await session.delete(vtype)
    return Response(status_code=202)


@router.get("/os-availability-zone")
async def availability_zones(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    policy.enforce(ctx, "volume:availability_zone:list")
    zone = http.runtime(request).settings.compute.default_availability_zone
    return JSON({"availabilityZoneInfo": [{"zoneName": zone, "zoneState": {"available": True}}]})
