"""What the volume service accepts and answers on the bus."""

from __future__ import annotations

from typing import Any

from cumulo.rpc.messages import Message

# --- answers -----------------------------------------------------------------------------


class AttachmentInfo(Message):
    """An attachment as another service sees it.

    ``connection_info`` is set once a connector was given (see
    ``cumulo.volume.attach.connection_info`` for its shape).
    """

    TYPE = "volume.AttachmentInfo"

    id: str
    volume_id: str
    instance_uuid: str
    status: str
    attach_mode: str = "rw"
    connector: dict[str, Any] | None = None
    connection_info: dict[str, Any] | None = None


class VolumeInfo(Message):
    """A volume as another service sees it (compute polls it until ``available``)."""

    TYPE = "volume.VolumeInfo"

    id: str
    project_id: str
    name: str | None = None
    status: str
    attach_status: str
    size: int
    availability_zone: str
    volume_type: str
    bootable: bool = False
    multiattach: bool = False
    disk_format: str
    image_metadata: dict[str, Any] | None = None
    attachments: list[AttachmentInfo] = []


class Nothing(Message):
    """The reply of a call that has nothing to say beyond "done"."""

    TYPE = "volume.Nothing"


# --- requests from other services (calls) ------------------------------------------------


class GetVolume(Message):
    TYPE = "volume.GetVolume"

    volume_id: str


class CreateVolume(Message):
    """Make a volume: blank, or from ``image_id`` (Nova's image→volume and blank→volume BDMs)."""

    TYPE = "volume.CreateVolume"

    size: int
    name: str | None = None
    description: str | None = None
    image_id: str | None = None
    volume_type: str | None = None
    availability_zone: str | None = None
    metadata: dict[str, str] = {}


class DeleteVolume(Message):
    TYPE = "volume.DeleteVolume"

    volume_id: str


class CreateAttachment(Message):
    TYPE = "volume.CreateAttachment"

    volume_id: str
    instance_uuid: str
    connector: dict[str, Any] | None = None
    mode: str = "rw"


class UpdateAttachment(Message):
    TYPE = "volume.UpdateAttachment"

    attachment_id: str
    connector: dict[str, Any]


class CompleteAttachment(Message):
    TYPE = "volume.CompleteAttachment"

    attachment_id: str


class DeleteAttachment(Message):
    TYPE = "volume.DeleteAttachment"

    attachment_id: str


# --- the manager's own work (casts) ------------------------------------------------------


class BuildVolume(Message):
    TYPE = "volume.BuildVolume"

    volume_id: str


class DestroyVolume(Message):
    TYPE = "volume.DestroyVolume"

    volume_id: str


class ExtendVolume(Message):
    TYPE = "volume.ExtendVolume"

    volume_id: str
    new_size: int
    old_size: int
