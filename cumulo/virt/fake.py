"""A hypervisor that keeps its guests in memory: the scheduler, the pipeline and its
failure branches can be tried without QEMU (Nova's ``nova/virt/fake.py``).

Failures come from ``settings.fake_driver`` (``fail_spawn_hosts``,
``fail_spawn``, ``spawn_delay``) or from a test through ``FakeDriver.inject``,
which applies to every fake host of the process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar, Literal

from cumulo.compute.states import PowerState
from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance
from cumulo.image.messages import ImageMeta
from cumulo.network.model import NetworkInfo
from cumulo.virt.driver import BlockDeviceInfo, ComputeDriver, HostResources, InstanceInfo
from cumulo.virt.errors import FatalVirtError, InstanceNotFoundInDriver, VirtError


@dataclass
class Injection:
    """A failure a test asks for: on ``host`` (every host when None), the next ``times`` spawns."""

    fail: Literal["retryable", "fatal"]
    host: str | None = None
    times: int = 1_000_000


@dataclass
class FakeGuest:
    uuid: str
    name: str
    state: PowerState
    console: list[str]


class FakeDriver(ComputeDriver):
    injections: ClassVar[list[Injection]] = []

    def __init__(self, settings: Settings, host: str) -> None:
        super().__init__(settings, host)
        self.guests: dict[str, FakeGuest] = {}

    @classmethod
    def inject(cls, injection: Injection) -> None:
        cls.injections.append(injection)

    @classmethod
    def clear_injections(cls) -> None:
        cls.injections.clear()

    async def get_available_resource(self) -> HostResources:
        fake = self.settings.fake_driver
        return HostResources(
            vcpus=fake.vcpus,
            memory_mb=fake.memory_mb,
            local_gb=fake.local_gb,
            hypervisor_type="fake",
            hypervisor_version=1000,
        )

    async def list_instances(self) -> list[str]:
        return list(self.guests)

    def _failure(self) -> str | None:
        fake = self.settings.fake_driver
        if self.host in fake.fail_spawn_hosts:
            return fake.fail_spawn
        for injection in self.injections:
            if injection.times > 0 and injection.host in (None, self.host):
                injection.times -= 1
                return injection.fail
        return None

    async def spawn(
        self,
        ctx: RequestContext,
        instance: Instance,
        image_meta: ImageMeta | None,
        admin_password: str | None,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo,
    ) -> None:
        delay = self.settings.fake_driver.spawn_delay
        if delay:
            await asyncio.sleep(delay)
        failure = self._failure()
        if failure == "fatal":
            raise FatalVirtError(reason=f"injected fatal failure on {self.host}")
        if failure == "retryable":
            raise VirtError(reason=f"injected failure on {self.host}")
        self.guests[instance.uuid] = FakeGuest(
            uuid=instance.uuid,
            name=instance.display_name,
            state=PowerState.RUNNING,
            console=[f"{instance.display_name} {instance.uuid}", "cumulo-guest-ready"],
        )

    async def destroy(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo | None = None,
        destroy_disks: bool = True,
    ) -> None:
        self.guests.pop(instance.uuid, None)

    def _guest(self, instance: Instance) -> FakeGuest:
        guest = self.guests.get(instance.uuid)
        if guest is None:
            raise InstanceNotFoundInDriver(instance_id=instance.uuid)
        return guest

    async def get_info(self, instance: Instance) -> InstanceInfo:
        guest = self.guests.get(instance.uuid)
        if guest is None:
            return InstanceInfo(PowerState.NOSTATE)
        return InstanceInfo(guest.state, guest.uuid)

    async def get_console_output(self, ctx: RequestContext, instance: Instance) -> str:
        return "\n".join(self._guest(instance).console) + "\n"

    async def reboot(
        self, ctx: RequestContext, instance: Instance, network_info: NetworkInfo, reboot_type: str
    ) -> None:
        guest = self._guest(instance)
        guest.state = PowerState.RUNNING
        guest.console.append(f"{reboot_type.lower()} reboot")

    async def power_off(self, instance: Instance, clean_shutdown_timeout: float = 0) -> None:
        self._guest(instance).state = PowerState.SHUTDOWN

    async def power_on(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo | None = None,
    ) -> None:
        self._guest(instance).state = PowerState.RUNNING
