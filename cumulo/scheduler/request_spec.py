"""What an instance asks of its host: Nova's ``RequestSpec``, as the conductor sends it."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from cumulo.image.messages import ImageMeta
from cumulo.scheduler.host_state import Resources


class FlavorSpec(BaseModel):
    vcpus: int
    memory_mb: int
    root_gb: int = 0
    ephemeral_gb: int = 0
    swap_mb: int = 0
    extra_specs: dict[str, str] = {}


class GroupSpec(BaseModel):
    """The server group an instance joins, with where its members already are."""

    uuid: str
    policy: str
    max_server_per_host: int = 1
    members: list[str] = []
    hosts: list[str] = []
    """Hosts of the members already placed (one entry per member, so counts are kept)."""


class RequestSpec(BaseModel):
    instance_uuids: list[str]
    project_id: str
    user_id: str | None = None
    flavor: FlavorSpec
    image: ImageMeta | None = None
    """The image the server boots from, as the API found it; the compute host builds
    from it without asking the image service again (Nova's ``RequestSpec.image``)."""
    image_properties: dict[str, Any] = {}
    is_bfv: bool = False
    availability_zone: str | None = None
    force_hosts: list[str] = []
    force_nodes: list[str] = []
    ignore_hosts: list[str] = []
    same_host: list[str] = []
    different_host: list[str] = []
    group: GroupSpec | None = None
    num_alternates: int = Field(2, ge=0)

    def resources(self) -> Resources:
        """Placement's request: VCPU, MEMORY_MB, DISK_GB (no root disk when booting from volume)."""
        root = 0 if self.is_bfv else self.flavor.root_gb
        disk = root + self.flavor.ephemeral_gb + math.ceil(self.flavor.swap_mb / 1024)
        return Resources(self.flavor.vcpus, self.flavor.memory_mb, disk)
