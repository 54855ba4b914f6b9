"""Glance v2 image records: create, list, show, update, delete, (de)activate."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import delete

from cumulo import exception
from cumulo.api.auth import context
from cumulo.api.factory import JSON
from cumulo.api.policy import enforce
from cumulo.api.validation import read_json
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.models.image import Image, ImageMember, ImageTag
from cumulo.image import listing, records
from cumulo.image.attributes import split_create
from cumulo.image.errors import ImageProtected
from cumulo.image.listing import ListQuery
from cumulo.image.patch import PATCH_TYPES, apply
from cumulo.image.store import ImageStore
from cumulo.image.views import show

router = APIRouter()
Ctx = Depends(context)


def store(request: Request) -> ImageStore:
    return ImageStore(request.app.state.runtime.settings.image_dir)


def owner_target(image: Image) -> dict[str, str | None]:
    return {"project_id": image.owner}


@router.post("/v2/images")
async def create_image(request: Request, ctx: RequestContext = Ctx) -> JSON:
    enforce(ctx, "image:add_image")
    columns, properties = split_create(ctx, await read_json(request))
    columns.setdefault("owner", ctx.project_id)
    columns.setdefault("visibility", "shared")
    tag_rows = [ImageTag(value=tag) for tag in columns.pop("tags", [])]
    now = utcnow()
    image = Image(
        **columns,
        tag_rows=tag_rows,
        properties=properties,
        status="queued",
        created_at=now,
        updated_at=now,
    )
    db = request.app.state.runtime.db
    async with db.write() as session:
        if "id" in columns and await session.get(Image, columns["id"]) is not None:
            raise exception.Conflict(f"Image with identifier {columns['id']} already exists!")
        session.add(image)
        await session.flush()
        body = show(image)
    return JSON(body, status_code=201, headers={"Location": f"/v2/images/{image.id}"})


def _list_query(request: Request) -> ListQuery:
    params = request.query_params
    return listing.parse(
        params, params.getlist("tag"), params.getlist("sort_key"), params.getlist("sort_dir")
    )


def _list_links(request: Request, shown: list[Image], more: bool) -> dict[str, str]:
    """``first`` (the query without its marker) and, when more follow, ``next``."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
    links = {"first": "/v2/images" + (f"?{urlencode(params)}" if params else "")}
    if more and shown:
        links["next"] = "/v2/images?" + urlencode([*params, ("marker", shown[-1].id)])
    return links


@router.get("/v2/images")
async def list_images(request: Request, ctx: RequestContext = Ctx) -> JSON:
    enforce(ctx, "image:get_images")
    query = _list_query(request)
    async with request.app.state.runtime.db.read() as session:
        shown, more = await records.list_images(session, ctx, query)
    body: dict[str, object] = {
        "images": [show(i) for i in shown],
        "schema": "/v2/schemas/images",
        **_list_links(request, shown, more),
    }
    return JSON(body)


@router.get("/v2/images/{image_id}")
async def show_image(image_id: str, request: Request, ctx: RequestContext = Ctx) -> JSON:
    enforce(ctx, "image:get_image")
    async with request.app.state.runtime.db.read() as session:
        return JSON(show(await records.get_visible(session, ctx, image_id)))


@router.patch("/v2/images/{image_id}")
async def update_image(image_id: str, request: Request, ctx: RequestContext = Ctx) -> JSON:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in PATCH_TYPES:
        raise exception.UnsupportedMediaType(f"Unsupported Content-Type {content_type or 'None'}")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise exception.MalformedRequestBody(reason="invalid JSON") from exc
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        enforce(ctx, "image:modify_image", owner_target(image))
        apply(ctx, image, body)
        image.updated_at = utcnow()
        await session.flush()
        return JSON(show(image))


@router.delete("/v2/images/{image_id}", status_code=204)
async def delete_image(image_id: str, request: Request, ctx: RequestContext = Ctx) -> Response:
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        enforce(ctx, "image:delete_image", owner_target(image))
        if image.protected:
            raise ImageProtected(image_id=image_id)
        await session.delete(image)
        await session.execute(delete(ImageMember).where(ImageMember.image_id == image_id))
    await store(request).delete(image_id)
    return Response(status_code=204)


async def _set_active(
    request: Request, ctx: RequestContext, image_id: str, action: str
) -> Response:
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        enforce(ctx, f"image:{action}", owner_target(image))
        if image.status not in ("active", "deactivated"):
            raise exception.Forbidden(f"Not allowed to {action} image in status '{image.status}'")
        image.status = "deactivated" if action == "deactivate" else "active"
        image.updated_at = utcnow()
    return Response(status_code=204)


@router.post("/v2/images/{image_id}/actions/deactivate", status_code=204)
async def deactivate(image_id: str, request: Request, ctx: RequestContext = Ctx) -> Response:
    return await _set_active(request, ctx, image_id, "deactivate")


@router.post("/v2/images/{image_id}/actions/reactivate", status_code=204)
async def reactivate(image_id: str, request: Request, ctx: RequestContext = Ctx) -> Response:
    return await _set_active(request, ctx, image_id, "reactivate")


@router.put("/v2/images/{image_id}/tags/{tag}", status_code=204)
async def add_tag(image_id: str, tag: str, request: Request, ctx: RequestContext = Ctx) -> Response:
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        enforce(ctx, "image:modify_image", owner_target(image))
        if len(tag) > 255:
            raise exception.Invalid("Tag is too long (255 characters at most).")
        if tag not in image.tags:
            image.tags.append(tag)
            image.updated_at = utcnow()
    return Response(status_code=204)


@router.delete("/v2/images/{image_id}/tags/{tag}", status_code=204)
async def delete_tag(
    image_id: str, tag: str, request: Request, ctx: RequestContext = Ctx
) -> Response:
    async with request.app.state.runtime.db.write() as session:
        image = await records.get_visible(session, ctx, image_id)
        enforce(ctx, "image:modify_image", owner_target(image))
        if tag not in image.tags:
            raise exception.NotFound(f"Tag {tag} not found")
        image.tags.remove(tag)
        image.updated_at = utcnow()
    return Response(status_code=204)
