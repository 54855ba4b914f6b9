"""A hypervisor that keeps its guests in memory: the scheduler, the pipeline and its
failure branches can be tried without QEMU (Nova's ``nova/virt/fake.py``).

Guests are records in memory whose power state follows the calls: spawn
and power_on make them RUNNING, power_off SHUTDOWN, reboot RUNNING again.
``set_guest_state`` changes one as the world outside the cloud would (a
guest that powered itself off, crashed, or was started by hand), for the
power-state sync to find.

Failures come from ``settings.fake_driver`` (``fail_spawn_hosts``,
``fail_spawn``, ``spawn_delay``) or from a test through ``FakeDriver.inject``,
which applies to every fake host of the process: an ``Injection`` names the
call (spawn, power_off, power_on, reboot), can make it fail, leave the guest
in a given state when it fails, or hold the call until the test lets it go.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeAlias

from cumulo.compute.states import PowerState
from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance
from cumulo.image.messages import ImageMeta
from cumulo.network.model import NetworkInfo
from cumulo.virt.driver import BlockDeviceInfo, ComputeDriver, HostResources, InstanceInfo
from cumulo.virt.errors import FatalVirtError, InstanceNotFoundInDriver, VirtError

Call: TypeAlias = Literal["spawn", "power_off", "power_on", "reboot"]


@dataclass
class Injection:
    """What a test asks of the next ``times`` ``call``s on ``host`` (every host when None).

    ``fail`` makes the call raise (``VirtError``, or ``FatalVirtError`` for
    "fatal"); a failing power call leaves the guest in ``leaves`` (unchanged
    when None). ``wait`` holds the call until the event is set.
    """

    fail: Literal["retryable", "fatal"] | None = "retryable"
    host: str | None = None
    times: int = 1_000_000
    call: Call = "spawn"
    leaves: PowerState | None = None
    wait: asyncio.Event | None = None


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

    def set_guest_state(self, uuid: str, state: PowerState) -> None:
        """Change a guest behind the cloud's back: powered off from inside, crashed, killed
        (``SHUTDOWN``/``CRASHED``), or started by hand (``RUNNING``)."""
        self.guests[uuid].state = state

    def _injection(self, call: Call) -> Injection | None:
        for injection in self.injections:
            if (
                injection.call == call
                and injection.times > 0
                and injection.host in (None, self.host)
            ):
                injection.times -= 1
                return injection
        return None

    async def _inject(self, call: Call, guest: FakeGuest | None = None) -> None:
        """Hold or fail ``call`` if a test asked for it."""
        injection = self._injection(call)
        if injection is None:
            return
        if injection.wait is not None:
            await injection.wait.wait()
        if injection.fail is None:
            return
        if guest is not None and injection.leaves is not None:
            guest.state = injection.leaves
        if injection.fail == "fatal":
            raise FatalVirtError(reason=f"injected fatal failure of {call} on {self.host}")
        raise VirtError(reason=f"injected failure of {call} on {self.host}")

    async def spawn(
        self,
        ctx: RequestContext,
        instance: Instance,
        image_meta: ImageMeta | None,
        admin_password: str | None,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo,
    ) -> None:
        fake = self.settings.fake_driver
        if fake.spawn_delay:
            await asyncio.sleep(fake.spawn_delay)
        if self.host in fake.fail_spawn_hosts:
            if fake.fail_spawn == "fatal":
                raise FatalVirtError(reason=f"injected fatal failure on {self.host}")
            raise VirtError(reason=f"injected failure on {self.host}")
        await self._inject("spawn")
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
        await self._inject("reboot", guest)
        guest.state = PowerState.RUNNING
        guest.console.append(f"{reboot_type.lower()} reboot")

    async def power_off(self, instance: Instance, clean_shutdown_timeout: float = 0) -> None:
        """Off, also when the guest is already gone: what was asked for is true."""
        guest = self.guests.get(instance.uuid)
        await self._inject("power_off", guest)
        if guest is not None:
            guest.state = PowerState.SHUTDOWN

    async def power_on(
        self,
        ctx: RequestContext,
        instance: Instance,
        network_info: NetworkInfo,
        block_device_info: BlockDeviceInfo | None = None,
    ) -> None:
        guest = self._guest(instance)
        await self._inject("power_on", guest)
        guest.state = PowerState.RUNNING
