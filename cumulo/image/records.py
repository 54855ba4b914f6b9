"""Finding images a caller may see, and listing them with Glance's filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.db.models.image import Image, ImageMember
from cumulo.image.errors import ImageNotFound

SORT_KEYS = {"name", "status", "container_format", "disk_format", "size", "id",
             "created_at", "updated_at", "visibility", "owner", "min_disk", "min_ram"}
SIMPLE_FILTERS = {"name", "status", "visibility", "owner", "disk_format", "container_format",
                  "checksum", "os_hash_value", "protected"}
MAX_LIMIT = 1000


async def member_statuses(session: AsyncSession, project_id: str | None) -> dict[str, str]:
    """image id → this project's member status, for images shared with it."""
    if project_id is None:
        return {}
    rows = await session.execute(
        select(ImageMember.image_id, ImageMember.status).where(ImageMember.member == project_id)
    )
    return {image_id: status for image_id, status in rows.all()}


def can_see(ctx: RequestContext, image: Image, members: Mapping[str, str]) -> bool:
    if ctx.is_admin or image.owner == ctx.project_id:
        return True
    if image.visibility in ("public", "community"):
        return True
    return image.visibility == "shared" and image.id in members


async def get_visible(session: AsyncSession, ctx: RequestContext, image_id: str) -> Image:
    """The image, or ``ImageNotFound`` when it is missing or not the caller's to see."""
    image = await session.get(Image, image_id)
    if image is None:
        raise ImageNotFound(image_id=image_id)
    if not can_see(ctx, image, await member_statuses(session, ctx.project_id)):
        raise ImageNotFound(image_id=image_id)
    return image


def _listed(ctx: RequestContext, image: Image, members: Mapping[str, str],
            query: Mapping[str, Any]) -> bool:
    """Whether the default or filtered list shows ``image`` to ``ctx`` (Glance's rules)."""
    if not can_see(ctx, image, members):
        return False
    visibility = query.get("visibility")
    if visibility == "all" or ctx.is_admin or image.owner == ctx.project_id:
        return True
    if image.visibility == "community":
        return visibility == "community"
    if image.visibility == "shared":
        wanted = query.get("member_status", "accepted")
        return wanted == "all" or members.get(image.id) == wanted
    return True


def _matches(image: Image, query: Mapping[str, Any]) -> bool:
    for key in SIMPLE_FILTERS & query.keys():
        if key == "visibility" and query[key] == "all":
            continue
        value = getattr(image, key)
        if key == "protected":
            value = "true" if value else "false"
        if str(value) != query[key]:
            return False
    if image.os_hidden != (query.get("os_hidden") == "true"):
        return False
    ids = query.get("id")
    if ids is not None:
        wanted = ids[3:].split(",") if ids.startswith("in:") else [ids]
        if image.id not in wanted:
            return False
    if not set(query.get("tags", ())) <= set(image.tags or ()):
        return False
    props = image.properties or {}
    return all(props.get(k) == v for k, v in query.get("properties", {}).items())


def _sort_key(key: str) -> Callable[[Image], tuple[bool, Any]]:
    def get(image: Image) -> tuple[bool, Any]:
        value = getattr(image, key)
        return (value is not None, value if value is not None else "")

    return get


def order(images: list[Image], keys: list[str], dirs: list[str]) -> list[Image]:
    """``images`` sorted by ``keys`` (the last key varies fastest), ties by id."""
    result = sorted(images, key=lambda i: i.id, reverse=dirs[-1] == "desc")
    for key, direction in reversed(list(zip(keys, dirs, strict=True))):
        result.sort(key=_sort_key(key), reverse=direction == "desc")
    return result


async def list_images(session: AsyncSession, ctx: RequestContext, query: Mapping[str, Any],
                      keys: list[str], dirs: list[str]) -> list[Image]:
    """Every image the list shows ``ctx`` under ``query``, in order."""
    members = await member_statuses(session, ctx.project_id)
    rows = (await session.scalars(select(Image))).all()
    images = [i for i in rows if _listed(ctx, i, members, query) and _matches(i, query)]
    return order(images, keys, dirs)


def page(images: list[Image], marker: str | None, limit: int) -> tuple[list[Image], bool]:
    """The page after ``marker`` and whether more follow."""
    if marker is not None:
        ids = [i.id for i in images]
        if marker not in ids:
            raise exception.Invalid(f"Invalid marker. Image {marker} could not be found.")
        images = images[ids.index(marker) + 1 :]
    return images[:limit], len(images) > limit
