"""Glance v2 image members: sharing a ``shared`` image with other projects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.api.policy import enforce
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.image import Image, ImageMember
from cumulo.image import records
from cumulo.image.images import Ctx, owner_target
from cumulo.image.views import timestamp

router = APIRouter()
MEMBER_STATUSES = ("pending", "accepted", "rejected")


class MemberNotFound(exception.NotFound):
    message = "%(member_id)s is not a member of image %(image_id)s"


def show_member(member: ImageMember) -> dict[str, Any]:
    return {
        "created_at": timestamp(member.created_at),
        "updated_at": timestamp(member.updated_at or member.created_at),
        "image_id": member.image_id,
        "member_id": member.member,
        "status": member.status,
        "schema": "/v2/schemas/member",
    }


def _body_field(body: Any, key: str) -> str:
    if not isinstance(body, dict) or not isinstance(body.get(key), str):
        raise exception.Invalid(f"Request body must be a JSON object with '{key}'.")
    return body[key]


async def _member(
    session: AsyncSession, ctx: RequestContext, image: Image, member_id: str
) -> ImageMember:
    """The membership, visible to the image's owner, admins and the member itself."""
    member = await session.scalar(
        select(ImageMember).where(ImageMember.image_id == image.id, ImageMember.member == member_id)
    )
    mine = ctx.is_admin or image.owner == ctx.project_id or member_id == ctx.project_id
    if member is None or not mine:
        raise MemberNotFound(member_id=member_id, image_id=image.id)
    return member


@router.post("/v2/images/{image_id}/members")
async def add_member(image_id: str, request: Request, ctx: RequestContext = Ctx) -> dict:
    member_id = _body_field(await read_json(request), "member")
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        enforce(ctx, "image:add_member", owner_target(image))
        if image.visibility != "shared":
            raise exception.Forbidden(
                f"Image {image_id} is not shared: only shared images have members."
            )
        exists = await session.scalar(
            select(ImageMember).where(
                ImageMember.image_id == image_id, ImageMember.member == member_id
            )
        )
        if exists is not None:
            raise exception.Conflict(
                f"The given member {member_id} is already associated with image {image_id}."
            )
        now = utcnow()
        member = ImageMember(
            image_id=image_id, member=member_id, status="pending", created_at=now, updated_at=now
        )
        session.add(member)
        await session.flush()
        return show_member(member)


@router.get("/v2/images/{image_id}/members")
async def list_members(image_id: str, request: Request, ctx: RequestContext = Ctx) -> dict:
    async with request.app.state.runtime.db.read() as session:
        image = await records.get_visible(session, ctx, image_id)
        query = select(ImageMember).where(ImageMember.image_id == image_id)
        if not (ctx.is_admin or image.owner == ctx.project_id):
            query = query.where(ImageMember.member == ctx.project_id)
        members = (await session.scalars(query.order_by(ImageMember.id))).all()
        return {"members": [show_member(m) for m in members], "schema": "/v2/schemas/members"}


@router.get("/v2/images/{image_id}/members/{member_id}")
async def show(image_id: str, member_id: str, request: Request, ctx: RequestContext = Ctx) -> dict:
    async with request.app.state.runtime.db.read() as session:
        image = await records.get_visible(session, ctx, image_id)
        return show_member(await _member(session, ctx, image, member_id))


@router.put("/v2/images/{image_id}/members/{member_id}")
async def update_member(
    image_id: str, member_id: str, request: Request, ctx: RequestContext = Ctx
) -> dict:
    status = _body_field(await read_json(request), "status")
    if status not in MEMBER_STATUSES:
        raise exception.Invalid(
            f"Provided object does not match schema 'member': "
            f"{status!r} is not one of {list(MEMBER_STATUSES)}"
        )
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        member = await _member(session, ctx, image, member_id)
        if member_id != ctx.project_id:
            raise exception.Forbidden("Only the image member may change its status.")
        member.status = status
        member.updated_at = utcnow()
        return show_member(member)


@router.delete("/v2/images/{image_id}/members/{member_id}", status_code=204)
async def delete_member(
    image_id: str, member_id: str, request: Request, ctx: RequestContext = Ctx
) -> Response:
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        member = await _member(session, ctx, image, member_id)
        enforce(ctx, "image:delete_member", owner_target(image))
        await session.delete(member)
    return Response(status_code=204)
