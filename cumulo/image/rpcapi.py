"""The typed client other services use to reach the image service over the bus."""

from __future__ import annotations

from cumulo.context import RequestContext
from cumulo.image.manager import ImageManager
from cumulo.image.messages import GetImage, ImageMeta
from cumulo.rpc import Bus


class ImageAPI:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def get(self, ctx: RequestContext, image_id: str) -> ImageMeta:
        """The image as ``ctx`` may see it; ``ImageNotFound`` when it may not."""
        msg = GetImage(image_id=image_id)
        return await self.bus.call(ImageManager.topic, msg, ctx, returns=ImageMeta)
