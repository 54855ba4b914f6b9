"""Block device mappings at create: Nova's ``_check_and_transform_bdm`` and ``_validate_bdm``.

The request's ``block_device_mapping_v2`` items become the rows of
``block_device_mapping``; the checks that need no other service happen
here, the ones that ask the volume or image service are the API's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cumulo.compute import errors


@dataclass
class BlockDevice:
    source_type: str
    destination_type: str
    boot_index: int | None
    uuid: str | None = None
    volume_size: int | None = None
    device_name: str | None = None
    device_type: str | None = None
    disk_bus: str | None = None
    guest_format: str | None = None
    delete_on_termination: bool = False
    tag: str | None = None
    volume_type: str | None = None

    @property
    def is_volume(self) -> bool:
        return self.destination_type == "volume"

    def row(self) -> dict[str, Any]:
        """The ``block_device_mapping`` columns of this device."""
        return {
            "source_type": self.source_type,
            "destination_type": self.destination_type,
            "boot_index": self.boot_index,
            "device_name": self.device_name,
            "device_type": self.device_type,
            "disk_bus": self.disk_bus,
            "guest_format": self.guest_format,
            "delete_on_termination": self.delete_on_termination,
            "image_id": self.uuid if self.source_type == "image" else None,
            "snapshot_id": self.uuid if self.source_type == "snapshot" else None,
            "volume_id": self.uuid if self.source_type == "volume" else None,
            "volume_size": self.volume_size,
            "volume_type": self.volume_type,
            "tag": self.tag,
        }


def from_api(items: list[Any], image_ref: str) -> list[BlockDevice]:
    """Check each item alone and the set's boot order, as Nova's ``BlockDeviceDict.from_api``."""
    devices: list[BlockDevice] = []
    for item in items:
        source = item.source_type or "blank"
        destination = item.destination_type or ("volume" if source == "volume" else "local")
        boot_index = (
            item.boot_index if item.boot_index is not None and item.boot_index >= 0 else None
        )
        if source == "blank" and item.uuid:
            raise errors.InvalidBDM(details="Invalid device UUID.")
        if source != "blank" and not item.uuid:
            raise errors.InvalidBDM(details="Missing device UUID.")
        if source == "image" and destination == "local" and not (image_ref and boot_index == 0):
            raise errors.InvalidBDM(details="Mapping image to local is not supported.")
        if item.volume_type and (destination == "local" or source == "volume"):
            raise errors.InvalidBDM(
                details="Specifying a volume_type with destination_type=local or "
                "source_type=volume is not supported."
            )
        if source == "image" and destination == "volume" and not item.volume_size:
            raise errors.InvalidBDM(
                details="Images with destination_type 'volume' need to have a non-zero size "
                "specified"
            )
        if source == "blank" and destination == "volume" and not item.volume_size:
            raise errors.InvalidBDM(
                details="Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size"
            )
        devices.append(
            BlockDevice(
                source_type=source,
                destination_type=destination,
                boot_index=boot_index,
                uuid=item.uuid,
                volume_size=item.volume_size,
                device_name=item.device_name,
                device_type=item.device_type,
                disk_bus=item.disk_bus,
                guest_format=item.guest_format,
                delete_on_termination=bool(item.delete_on_termination),
                tag=item.tag,
                volume_type=item.volume_type,
            )
        )
    boot_indexes = sorted(d.boot_index for d in devices if d.boot_index is not None)
    if devices and boot_indexes != list(range(len(boot_indexes))):
        raise errors.InvalidBDMBootSequence()
    if devices and not image_ref and not boot_indexes:
        raise errors.InvalidBDMBootSequence()
    return devices


def check_local_devices(devices: list[BlockDevice], image_ref: str, limit: int) -> None:
    """At most ``limit`` local disks, counting the image's root disk (-1: no limit)."""
    if limit < 0:
        return
    local = [d for d in devices if d.destination_type == "local"]
    has_image_root = any(d.source_type == "image" for d in local)
    count = len(local) + (1 if image_ref and not has_image_root else 0)
    if count > limit:
        raise errors.InvalidBDMLocalsLimit()


def boot_device(devices: list[BlockDevice]) -> BlockDevice | None:
    return next((d for d in devices if d.boot_index == 0), None)
