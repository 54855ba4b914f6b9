"""The image service's side of the bus: image records for the services that boot from them."""

from __future__ import annotations

from collections.abc import Mapping

from cumulo.context import RequestContext
from cumulo.image.messages import GetImage, ImageMeta
from cumulo.image.records import read_visible
from cumulo.manager import Manager
from cumulo.rpc.messages import Message
from cumulo.rpc.server import Handler
from cumulo.runtime import Runtime


class ImageManager(Manager):
    topic = "image"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.store_dir = runtime.settings.image_dir.absolute()

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {GetImage: self.get_image}

    async def get_image(self, ctx: RequestContext, msg: GetImage) -> ImageMeta:
        async with self.runtime.db.read() as session:
            image = await read_visible(session, ctx, msg.image_id)
        has_data = image.status in ("active", "deactivated")
        location = (self.store_dir / image.id).as_uri() if has_data else None
        return ImageMeta(
            id=image.id,
            name=image.name,
            status=image.status,
            visibility=image.visibility,
            owner=image.owner,
            disk_format=image.disk_format,
            container_format=image.container_format,
            size=image.size,
            virtual_size=image.virtual_size,
            checksum=image.checksum,
            os_hash_algo=image.os_hash_algo,
            os_hash_value=image.os_hash_value,
            min_disk=image.min_disk,
            min_ram=image.min_ram,
            protected=image.protected,
            tags=image.tags,
            properties=dict(image.properties or {}),
            location=location,
        )
