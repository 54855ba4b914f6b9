"""What the image service answers on the bus."""

from __future__ import annotations

from typing import Any

from cumulo.rpc.messages import Message


class GetImage(Message):
    image_id: str


class ImageMeta(Message):
    """An image as another service sees it: the record plus where its data is.

    ``location`` is a ``file://`` URL of the data in the image store when the
    store is a local directory (Glance's ``direct_url``), so a service on the
    same machine can read it without going through the HTTP API.
    """

    id: str
    name: str | None = None
    status: str
    visibility: str
    owner: str | None = None
    disk_format: str | None = None
    container_format: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    protected: bool = False
    tags: list[str] = []
    properties: dict[str, Any] = {}
    location: str | None = None
