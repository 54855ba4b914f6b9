"""The libvirt/QEMU driver (Nova's ``nova/virt/libvirt/driver.py``): real guests.

``spawn`` lays out the instance directory (root overlay on the cached base,
ephemeral and swap disks, the config drive, ``console.log``), defines the
domain from ``config.Guest`` and starts it; when any step fails it removes the
domain and the directory before raising, so a failed build leaves nothing for
the next host or for ``cumulo audit`` to find. libvirt failures are
``VirtError`` (the manager reschedules); an image that no host could boot is
``FatalVirtError`` (the manager aborts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import libvirt

from cumulo.compute.states import PowerState
from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance
from cumulo.exception import CumuloError
from cumulo.image.messages import ImageMeta
from cumulo.network.model import NetworkInfo
from cumulo.virt.configdrive import make_config_drive
from cumulo.virt.driver import BlockDeviceInfo, ComputeDriver, HostResources, InstanceInfo
from cumulo.virt.errors import FatalVirtError, InstanceNotFoundInDriver, VirtError
from cumulo.virt.instance_metadata import InstanceMetadata, MetadataSource
from cumulo.virt.libvirt import virt_type
from cumulo.virt.libvirt.config import Guest, GuestDisk, GuestInterface, GuestOS, VirtType
from cumulo.virt.libvirt.host import Host, owner_of, stop_domain
from cumulo.virt.libvirt.imagebackend import GiB, ImageCache, InstanceDisks

LOG = logging.getLogger(__name__)

DEFAULT_CMDLINE = "root=/dev/vda console=tty0 console=ttyS0"
CONSOLE_TAIL_BYTES = 100 * 1024
"""What ``get_console_output`` reads from the end of the log (Nova's limit)."""
START_TIMEOUT = 60.0
SOFT_REBOOT_WAIT = 120.0

POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}

_detect_lock = asyncio.Lock()


def domain_name(uuid: str) -> str:
    return f"instance-{uuid}"


class _DiskNames:
    """Virtio disk names (``vda``…) given out once each: a volume keeps the device the
    compute manager recorded for it when that name is free, other disks take the next."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, name: str | None) -> str | None:
        if name is None or name in self._taken:
            return None
        self._taken.add(name)
        return name

    def next(self) -> str:
        for letter in "abcdefghijklmnopqrstuvwxyz":
            if (name := self.take(f"vd{letter}")) is not None:
                return name
        raise FatalVirtError(reason="the server has more disks than virtio names")


def _target(mount_device: str | None) -> str | None:
    """``/dev/vdb`` → ``vdb``; anything else is not a name this driver gives."""
    name = (mount_device or "").removeprefix("/dev/")
    return name if len(name) == 3 and name.startswith("vd") else None


class LibvirtDriver(ComputeDriver):
    guests_hold_taps = True

    def __init__(self, settings: Settings, host: str) -> None:
        super().__init__(settings, host)
        self.libvirt = Host.for_settings(settings)
        self.instances_path = settings.instances_path.resolve()
        base_dir = settings.libvirt.images_dir or self.instances_path / "_base"
        self.images = ImageCache(base_dir.resolve())
        self.virt_type: VirtType = "qemu"

    async def init_host(self) -> None:
        self.instances_path.mkdir(parents=True, exist_ok=True)
        async with _detect_lock:
            self.virt_type = await virt_type.detect(self.libvirt, self.settings)

    # --- the host ------------------------------------------------------------------------

    async def get_available_resource(self) -> HostResources:
        conn = await self.libvirt.connection()
        version = await self.libvirt.call(conn.getVersion)
        return HostResources(
            vcpus=os.cpu_count() or 1,
            memory_mb=_memory_mb(),
            local_gb=shutil.disk_usage(self.instances_path).total // GiB,
            hypervisor_type="QEMU",
            hypervisor_version=version,
            host_ip=_host_ip(),
        )

    async def list_instances(self) -> list[str]:
        def ours() -> list[str]:
            found = []
            for domain in self.libvirt.conn.listAllDomains():
                owner = owner_of(domain)
                if owner.get("host") == self.host and owner.get("path") == str(self.instances_path):
                    found.append(domain.UUIDString())
            return found

        return await self.libvirt.call(ours)

    # --- spawn and destroy -----------------------------------------------------------------

    async def spawn(
        self,
        ctx: RequestContext,
        instance: Instance,
        image_meta: ImageMeta | None,
        admin_password: str | None,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo,
    ) -> None:
        disks = InstanceDisks(self.instances_path, instance.uuid)
        try:
            disks.create_dir()
            guest = await self._guest(
                ctx, instance, image_meta, network_info, block_device_info, disks
            )
            if self._wants_config_drive(instance):
                await self._make_config_drive(instance, admin_password, network_info, disks)
                drive = GuestDisk(
                    disks.config_drive, "hdd", driver_format="raw", device="cdrom",
                    target_bus="ide", readonly=True,
                )  # fmt: skip
                guest = dataclasses.replace(guest, disks=(*guest.disks, drive))
            xml = guest.to_xml()
            disks.domain_xml.write_text(xml)
            if self.vif_driver is not None:
                await self.vif_driver.plug(network_info)
            await self.libvirt.call(self._define_and_start, xml)
            await self._wait_for_state(instance.uuid, PowerState.RUNNING, START_TIMEOUT)
        except BaseException as exc:
            await self._remove(instance.uuid, disks, destroy_disks=True)
            if self.vif_driver is not None:
                await self.vif_driver.unplug(network_info)
            if isinstance(exc, libvirt.libvirtError):
                raise VirtError(reason=str(exc)) from exc
            raise

    def _wants_config_drive(self, instance: Instance) -> bool:
        return bool(instance.config_drive) or self.settings.config_drive_forced

    async def _make_config_drive(
        self,
        instance: Instance,
        admin_password: str | None,
        network_info: NetworkInfo,
        disks: InstanceDisks,
    ) -> None:
        """``disk.config``: the instance's metadata on an ISO 9660 volume labelled
        ``config-2`` (Nova's ``_create_configdrive``)."""
        source = MetadataSource.from_instance(instance, network_info, admin_pass=admin_password)
        files = InstanceMetadata(source).files()
        await asyncio.to_thread(make_config_drive, disks.config_drive, files)

    def _define_and_start(self, xml: str) -> None:
        domain = self.libvirt.conn.defineXML(xml)
        domain.create()

    async def _guest(
        self,
        ctx: RequestContext,
        instance: Instance,
        image_meta: ImageMeta | None,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo,
        disks: InstanceDisks,
    ) -> Guest:
        volumes = sorted(
            block_device_info.block_device_mapping,
            key=lambda bdm: (bdm.get("boot_index") is None or bdm["boot_index"] < 0,
                             bdm.get("boot_index") or 0),
        )  # fmt: skip
        boots_from_volume = bool(volumes) and volumes[0].get("boot_index") == 0
        names = _DiskNames()
        guest_disks: list[GuestDisk] = []
        boot = GuestOS()
        if not boots_from_volume:
            if image_meta is None:
                raise FatalVirtError(reason="the server has neither an image nor a boot volume")
            boot = await self._image_boot(ctx, image_meta, instance, disks)
            guest_disks.append(GuestDisk(disks.root, names.take("vda") or names.next()))
        for bdm in volumes:
            target = names.take(_target(bdm.get("mount_device"))) or names.next()
            guest_disks.append(_volume_disk(bdm, target))
        if instance.ephemeral_gb:
            await disks.create_blank(disks.ephemeral, instance.ephemeral_gb * GiB)
            guest_disks.append(GuestDisk(disks.ephemeral, names.next()))
        swap_mb = int((instance.flavor or {}).get("swap") or 0)
        if swap_mb:
            await disks.create_blank(disks.swap, swap_mb * 1024 * 1024)
            guest_disks.append(GuestDisk(disks.swap, names.next()))
        return Guest(
            uuid=instance.uuid,
            name=domain_name(instance.uuid),
            virt_type=self.virt_type,
            memory_mib=instance.memory_mb,
            vcpus=instance.vcpus,
            console_log=disks.console_log,
            os=boot,
            disks=tuple(guest_disks),
            interfaces=tuple(
                GuestInterface(
                    vif.address,
                    vif.devname,
                    plugged=self.vif_driver is not None,
                    mtu=vif.network.mtu or None,
                )
                for vif in network_info.vifs
            ),
            tb_cache_mib=self.settings.libvirt.tb_cache_mb,
            metadata={
                "host": self.host,
                "path": str(self.instances_path),
                "name": instance.display_name,
                "project": instance.project_id,
            },
        )

    async def _image_boot(
        self, ctx: RequestContext, image_meta: ImageMeta, instance: Instance, disks: InstanceDisks
    ) -> GuestOS:
        base = await self.images.fetch(image_meta)
        await disks.create_root(base, instance.root_gb)
        properties = image_meta.properties
        machine = str(properties.get("hw_machine_type") or "pc")
        kernel_id = properties.get("kernel_id") or instance.kernel_id
        if not kernel_id:
            return GuestOS(machine=machine)
        ramdisk_id = properties.get("ramdisk_id") or instance.ramdisk_id
        return GuestOS(
            kernel=await self._fetch_by_id(ctx, str(kernel_id)),
            initrd=await self._fetch_by_id(ctx, str(ramdisk_id)) if ramdisk_id else None,
            cmdline=str(properties.get("os_command_line") or DEFAULT_CMDLINE),
            machine=machine,
        )

    async def _fetch_by_id(self, ctx: RequestContext, image_id: str) -> Path:
        """A kernel or ramdisk image (``kernel_id``/``ramdisk_id``) in the base cache."""
        if self.image_api is None:
            raise VirtError(reason="the driver was given no image service")
        try:
            meta = await self.image_api.get(ctx, image_id)
        except CumuloError as exc:
            raise FatalVirtError(reason=f"image {image_id}: {exc.format_message()}") from exc
        return await self.images.fetch(meta)

    async def destroy(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo | None = None,
        destroy_disks: bool = True,
    ) -> None:
        disks = InstanceDisks(self.instances_path, instance.uuid)
        await self._remove(instance.uuid, disks, destroy_disks=destroy_disks)
        if self.vif_driver is not None:
            await self.vif_driver.unplug(network_info)

    async def _remove(self, uuid: str, disks: InstanceDisks, destroy_disks: bool) -> None:
        """Stop and undefine the domain if there is one, then remove its files."""

        def remove_domain() -> None:
            domain = self.libvirt.lookup(uuid)
            if domain is not None:
                stop_domain(domain)
                domain.undefine()

        await self.libvirt.call(remove_domain)
        if destroy_disks:
            await asyncio.to_thread(disks.remove)

    # --- state -----------------------------------------------------------------------------

    async def get_info(self, instance: Instance) -> InstanceInfo:
        return await self.libvirt.call(self._info, instance.uuid)

    def _info(self, uuid: str) -> InstanceInfo:
        domain = self.libvirt.lookup(uuid)
        if domain is None:
            return InstanceInfo(PowerState.NOSTATE)
        state, _reason = domain.state()
        return InstanceInfo(POWER_STATES.get(state, PowerState.NOSTATE), domain.name())

    async def _wait_for_state(self, uuid: str, wanted: PowerState, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            if (await self.libvirt.call(self._info, uuid)).state == wanted:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)

    async def _wait_until_off(self, domain: libvirt.virDomain, seconds: float) -> bool:
        """Whether the guest's QEMU is gone within ``seconds``. A guest that powers itself
        off is first "being shut down" (``VIR_DOMAIN_SHUTDOWN``) while its process still
        runs, and a domain can start again only once that process has ended."""
        deadline = time.monotonic() + seconds
        while await self.libvirt.call(domain.isActive):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    async def get_console_output(self, ctx: RequestContext, instance: Instance) -> str:
        log = InstanceDisks(self.instances_path, instance.uuid).console_log
        if not log.exists():
            raise InstanceNotFoundInDriver(instance_id=instance.uuid)

        def tail() -> bytes:
            with log.open("rb") as f:
                f.seek(max(0, log.stat().st_size - CONSOLE_TAIL_BYTES))
                return f.read()

        return (await asyncio.to_thread(tail)).decode("utf-8", errors="replace")

    # --- power -----------------------------------------------------------------------------

    async def _domain(self, instance: Instance) -> libvirt.virDomain:
        domain = await self.libvirt.call(self.libvirt.lookup, instance.uuid)
        if domain is None:
            raise InstanceNotFoundInDriver(instance_id=instance.uuid)
        return domain

    async def power_off(self, instance: Instance, clean_shutdown_timeout: float = 0) -> None:
        """ACPI shutdown, waiting up to ``clean_shutdown_timeout``; then pull the plug.
        A guest whose domain is gone is off already."""
        domain = await self.libvirt.call(self.libvirt.lookup, instance.uuid)
        if domain is None:
            return
        if clean_shutdown_timeout > 0 and await self.libvirt.call(domain.isActive):
            try:
                await self.libvirt.call(domain.shutdown)
            except libvirt.libvirtError as exc:
                LOG.info("Clean shutdown of %s refused: %s", instance.uuid, exc)
            if await self._wait_until_off(domain, clean_shutdown_timeout):
                return
        await self._hard_stop(domain)

    async def _hard_stop(self, domain: libvirt.virDomain) -> None:
        try:
            await self.libvirt.call(stop_domain, domain)
        except libvirt.libvirtError as exc:
            raise VirtError(reason=str(exc)) from exc

    async def power_on(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo | None = None,
    ) -> None:
        domain = await self._domain(instance)
        if self.vif_driver is not None:  # the taps may be gone (a restart of the host)
            await self.vif_driver.plug(network_info)
        state, _reason = await self.libvirt.call(domain.state)
        if state == libvirt.VIR_DOMAIN_SHUTDOWN:
            await self._wait_until_off(domain, START_TIMEOUT)

        def start() -> None:
            if not domain.isActive():
                domain.create()

        try:
            await self.libvirt.call(start)
        except libvirt.libvirtError as exc:
            raise VirtError(reason=str(exc)) from exc
        if not await self._wait_for_state(instance.uuid, PowerState.RUNNING, START_TIMEOUT):
            raise VirtError(reason=f"instance {instance.uuid} did not start")

    async def reboot(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        reboot_type: str,
    ) -> None:
        """SOFT: ACPI shutdown, then start again; HARD (or a soft one that did not
        finish in time): power off and on (Nova's ``_soft_reboot``/``_hard_reboot``)."""
        if reboot_type.upper() == "SOFT":
            domain = await self._domain(instance)
            try:
                await self.libvirt.call(domain.shutdown)
                if await self._wait_until_off(domain, SOFT_REBOOT_WAIT):
                    await self.power_on(ctx, instance, network_info)
                    return
            except libvirt.libvirtError as exc:
                LOG.info("Soft reboot of %s failed, rebooting hard: %s", instance.uuid, exc)
        await self.power_off(instance)
        await self.power_on(ctx, instance, network_info)


def _volume_disk(bdm: dict[str, Any], target: str) -> GuestDisk:
    info = bdm.get("connection_info") or {}
    data = info.get("data") or {}
    if info.get("driver_volume_type") != "file" or not data.get("device_path"):
        raise FatalVirtError(reason=f"volume {data.get('volume_id')} is not a local file")
    return GuestDisk(
        Path(data["device_path"]),
        target,
        driver_format="qcow2" if data.get("format") == "qcow2" else "raw",
        readonly=data.get("access_mode") == "ro",
        serial=info.get("serial") or data.get("volume_id"),
    )


def _memory_mb() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def _host_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
