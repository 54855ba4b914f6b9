"""The hypervisor driver interface: the calls the compute manager makes (Nova's ``ComputeDriver``).

Every call is a coroutine; a driver doing blocking work (libvirt, qemu-img)
runs it in a thread. ``spawn`` must leave nothing behind when it raises:
``VirtError`` lets the manager reschedule the build on another host,
``FatalVirtError`` aborts it.
"""

from __future__ import annotations

import abc
import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from cumulo.compute.states import PowerState
from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance
from cumulo.image.messages import ImageMeta
from cumulo.image.rpcapi import ImageAPI
from cumulo.network.model import NetworkInfo


@dataclass(frozen=True)
class HostResources:
    """What a node offers, as ``get_available_resource`` reports it."""

    vcpus: int
    memory_mb: int
    local_gb: int
    hypervisor_type: str
    hypervisor_version: int
    host_ip: str = "127.0.0.1"
    cpu_info: str = "{}"


@dataclass(frozen=True)
class InstanceInfo:
    state: PowerState
    internal_id: str | None = None


@dataclass
class BlockDeviceInfo:
    """The volumes and local disks of an instance, as ``spawn`` attaches them."""

    root_device_name: str | None = None
    block_device_mapping: list[dict[str, Any]] = field(default_factory=list)
    """One entry per volume: ``connection_info``, ``mount_device``, ``boot_index``."""


class VifDriver(Protocol):
    """What plugs a guest's NICs into the host's network (os-vif's ``plug``/``unplug``)."""

    async def plug(self, network_info: NetworkInfo) -> None: ...

    async def unplug(self, network_info: NetworkInfo) -> None: ...


class ComputeDriver(abc.ABC):
    guests_hold_taps = False
    """Whether a running guest holds its NICs' taps open (QEMU does): a tap of a running
    guest that is missing or not held then means the guest's NIC was cut."""

    def __init__(self, settings: Settings, host: str) -> None:
        self.settings = settings
        self.host = host
        self.image_api: ImageAPI | None = None
        """The image service, for a driver that fetches more images than the one it was
        given (a kernel and ramdisk); the compute manager sets it."""
        self.vif_driver: VifDriver | None = None
        """Plugs NICs into the host's data plane; None: a guest's NIC is a tap with no
        network behind it. The compute manager sets it."""

    async def init_host(self) -> None:  # noqa: B027 (optional for a driver)
        """Prepare the hypervisor when the compute service starts."""

    @abc.abstractmethod
    async def get_available_resource(self) -> HostResources: ...

    @abc.abstractmethod
    async def list_instances(self) -> list[str]:
        """Uuids of the guests the hypervisor has."""

    @abc.abstractmethod
    async def spawn(
        self,
        ctx: RequestContext,
        instance: Instance,
        image_meta: ImageMeta | None,
        admin_password: str | None,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo,
    ) -> None:
        """Create and start the guest; raise ``VirtError``/``FatalVirtError`` having cleaned up."""

    @abc.abstractmethod
    async def destroy(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo | None = None,
        destroy_disks: bool = True,
    ) -> None:
        """Stop and remove the guest and its files; nothing happens when it is already gone."""

    @abc.abstractmethod
    async def get_info(self, instance: Instance) -> InstanceInfo: ...

    @abc.abstractmethod
    async def get_console_output(self, ctx: RequestContext, instance: Instance) -> str: ...

    @abc.abstractmethod
    async def reboot(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        reboot_type: str,
    ) -> None: ...

    @abc.abstractmethod
    async def power_off(self, instance: Instance, clean_shutdown_timeout: float = 0) -> None: ...

    @abc.abstractmethod
    async def power_on(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo | None = None,
    ) -> None: ...


DRIVERS = {
    "fake": "cumulo.virt.fake:FakeDriver",
    "libvirt": "cumulo.virt.libvirt.driver:LibvirtDriver",
}


def load_driver(settings: Settings, host: str) -> ComputeDriver:
    module, _, name = DRIVERS[settings.compute.driver].partition(":")
    cls: type[ComputeDriver] = getattr(importlib.import_module(module), name)
    return cls(settings, host)
