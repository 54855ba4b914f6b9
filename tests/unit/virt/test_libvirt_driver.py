"""The libvirt driver against real QEMU (TCG) through libvirt's embedded driver.

The guests here boot a blank disk: SeaBIOS runs, prints to the serial console
and finds nothing to boot, which is enough to drive define/start/stop/destroy and
the console without a guest image (the guest image's own boots are in
tests/functional).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import uuid as uuid_lib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import libvirt
import pytest

from cumulo.compute.states import PowerState
from cumulo.config import Settings
from cumulo.context import RequestContext
from cumulo.db.models.instances import Instance
from cumulo.image.messages import ImageMeta
from cumulo.network.model import VIF, Network, NetworkInfo
from cumulo.virt.configdrive import read_config_drive
from cumulo.virt.driver import BlockDeviceInfo, load_driver
from cumulo.virt.errors import FatalVirtError, VirtError
from cumulo.virt.libvirt.driver import LibvirtDriver
from cumulo.virt.libvirt.imagebackend import ImageCache
from tests.libvirt_root import libvirt_uri

CTX = RequestContext.admin_context()
MiB = 1024 * 1024


def _settings(state: Path) -> Settings:
    return Settings(
        state_dir=state,
        compute={"driver": "libvirt"},  # type: ignore[arg-type]
        libvirt={"connection_uri": libvirt_uri(), "virt_type": "qemu"},  # type: ignore[arg-type]
    )


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[LibvirtDriver]:
    drv = load_driver(_settings(tmp_path), "compute-1")
    assert isinstance(drv, LibvirtDriver)
    await drv.init_host()
    yield drv
    for uuid in await drv.list_instances():
        await drv.destroy(CTX, Instance(uuid=uuid), NetworkInfo())


def _image(tmp_path: Path, data: bytes, disk_format: str = "raw") -> ImageMeta:
    path = tmp_path / f"image-{uuid_lib.uuid4().hex[:8]}"
    path.write_bytes(data)
    return ImageMeta(
        id=str(uuid_lib.uuid4()),
        status="active",
        visibility="public",
        disk_format=disk_format,
        checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        os_hash_algo="sha512",
        os_hash_value=hashlib.sha512(data).hexdigest(),
        location=path.as_uri(),
    )


def _instance(**values: object) -> Instance:
    defaults: dict[str, object] = {
        "uuid": str(uuid_lib.uuid4()),
        "display_name": "guest",
        "hostname": "guest",
        "reservation_id": "r-1",
        "project_id": "p1",
        "memory_mb": 64,
        "vcpus": 1,
        "root_gb": 1,
        "ephemeral_gb": 0,
        "flavor": {"swap": 0},
    }
    return Instance(**{**defaults, **values})


def _nic(mac: str = "fa:16:3e:00:00:01") -> NetworkInfo:
    network = Network(id="n1", label="net", bridge="brq-n1", mtu=1450, project_id="p1")
    vif = VIF(id="port-1", address=mac, network=network, type="bridge", devname="tapport-1")
    return NetworkInfo(vifs=[vif])


def _domain_xml(drv: LibvirtDriver, uuid: str) -> ET.Element:
    domain = drv.libvirt.conn.lookupByUUIDString(uuid)
    return ET.fromstring(domain.XMLDesc(0))


async def test_spawn_runs_a_guest_whose_console_is_the_serial_port(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    instance = _instance(ephemeral_gb=1, flavor={"swap": 16})
    image = _image(tmp_path, b"\0" * MiB)
    await driver.spawn(CTX, instance, image, None, _nic(), BlockDeviceInfo())

    assert (await driver.get_info(instance)).state == PowerState.RUNNING
    assert await driver.list_instances() == [instance.uuid]
    xml = _domain_xml(driver, instance.uuid)
    assert xml.get("type") == "qemu"
    assert xml.findtext("memory") == str(64 * 1024)
    targets = [d.get("dev") for d in xml.iterfind("devices/disk/target")]
    assert targets == ["vda", "vdb", "vdc", "hdd"]
    assert xml.find("devices/interface/mac").get("address") == "fa:16:3e:00:00:01"  # type: ignore[union-attr]
    serials = {e.get("name"): e.text for e in xml.iterfind("sysinfo/system/entry")}
    assert serials["serial"] == serials["uuid"] == instance.uuid
    instance_dir = driver.instances_path / instance.uuid
    assert {p.name for p in instance_dir.iterdir()} >= {
        "disk", "disk.eph0", "disk.swap", "disk.config", "console.log", "libvirt.xml",
    }  # fmt: skip
    drive = read_config_drive(instance_dir / "disk.config")
    assert drive.label == "config-2"
    meta = json.loads(drive.files["openstack/latest/meta_data.json"])
    assert (meta["uuid"], meta["name"]) == (instance.uuid, "guest")
    console = ""
    for _ in range(50):
        console = await driver.get_console_output(CTX, instance)
        if "No bootable device" in console:
            break
        await _sleep(0.2)
    assert "SeaBIOS" in console and "No bootable device" in console


async def test_power_off_on_and_hard_reboot(driver: LibvirtDriver, tmp_path: Path) -> None:
    instance = _instance()
    await driver.spawn(CTX, instance, _image(tmp_path, b"\0" * MiB), None, NetworkInfo(),
                       BlockDeviceInfo())  # fmt: skip
    await driver.power_off(instance)
    assert (await driver.get_info(instance)).state == PowerState.SHUTDOWN
    await driver.power_on(CTX, instance, NetworkInfo())
    assert (await driver.get_info(instance)).state == PowerState.RUNNING
    await driver.reboot(CTX, instance, NetworkInfo(), "HARD")
    assert (await driver.get_info(instance)).state == PowerState.RUNNING


class _StillShuttingDown:
    """A domain whose guest powered itself off while its QEMU has not exited yet:
    libvirt says "being shut down" (``VIR_DOMAIN_SHUTDOWN``) and active for a few
    more polls. Starting it then would be a no-op that never runs."""

    def __init__(self, domain: libvirt.virDomain, polls: int = 3) -> None:
        self.domain = domain
        self.polls = polls

    def state(self) -> list[int]:
        return [libvirt.VIR_DOMAIN_SHUTDOWN, 1] if self.polls else list(self.domain.state())

    def isActive(self) -> bool:
        if self.polls:
            self.polls -= 1
            return True
        return bool(self.domain.isActive())

    def __getattr__(self, name: str) -> object:
        return getattr(self.domain, name)


async def test_power_on_waits_for_a_guest_still_shutting_down(
    driver: LibvirtDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = _instance()
    await driver.spawn(CTX, instance, _image(tmp_path, b"\0" * MiB), None, NetworkInfo(),
                       BlockDeviceInfo())  # fmt: skip
    await driver.power_off(instance)
    going = _StillShuttingDown(driver.libvirt.conn.lookupByUUIDString(instance.uuid))
    monkeypatch.setattr(driver.libvirt, "lookup", lambda uuid: going)
    await driver.power_on(CTX, instance, NetworkInfo())
    assert going.polls == 0
    assert (await driver.get_info(instance)).state == PowerState.RUNNING


async def test_a_guest_killed_from_outside_shows_shut_down(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    instance = _instance()
    await driver.spawn(CTX, instance, _image(tmp_path, b"\0" * MiB), None, NetworkInfo(),
                       BlockDeviceInfo())  # fmt: skip
    domain = driver.libvirt.conn.lookupByUUIDString(instance.uuid)
    domain.destroy()
    assert (await driver.get_info(instance)).state == PowerState.SHUTDOWN


async def test_destroy_removes_domain_and_files_and_is_idempotent(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    instance = _instance()
    await driver.spawn(CTX, instance, _image(tmp_path, b"\0" * MiB), None, NetworkInfo(),
                       BlockDeviceInfo())  # fmt: skip
    await driver.destroy(CTX, instance, NetworkInfo())
    assert (await driver.get_info(instance)).state == PowerState.NOSTATE
    assert not (driver.instances_path / instance.uuid).exists()
    with pytest.raises(libvirt.libvirtError):
        driver.libvirt.conn.lookupByUUIDString(instance.uuid)
    await driver.destroy(CTX, instance, NetworkInfo())


async def test_a_failed_start_leaves_no_domain_and_no_files(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    """QEMU refuses to start (a volume file that does not exist): a retryable error, and
    nothing of this spawn is left."""
    instance = _instance()
    missing = {
        "connection_info": {
            "driver_volume_type": "file",
            "data": {"device_path": str(tmp_path / "gone.qcow2"), "format": "qcow2"},
            "serial": "vol-1",
        },
        "boot_index": None,
    }
    with pytest.raises(VirtError) as raised:
        await driver.spawn(CTX, instance, _image(tmp_path, b"\0" * MiB), None, NetworkInfo(),
                           BlockDeviceInfo(block_device_mapping=[missing]))  # fmt: skip
    assert not isinstance(raised.value, FatalVirtError)
    assert (await driver.get_info(instance)).state == PowerState.NOSTATE
    assert not (driver.instances_path / instance.uuid).exists()
    assert await driver.list_instances() == []


async def test_an_image_whose_data_does_not_match_its_hash_is_fatal(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    image = _image(tmp_path, b"\0" * MiB)
    _data_of(image).write_bytes(b"\1" * MiB)
    instance = _instance()
    with pytest.raises(FatalVirtError, match="does not match"):
        await driver.spawn(CTX, instance, image, None, NetworkInfo(), BlockDeviceInfo())
    assert not (driver.instances_path / instance.uuid).exists()
    assert not driver.images.base_path(image.id).exists()


async def test_a_flavor_disk_smaller_than_the_image_is_fatal(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    image = _image(tmp_path, _blank_qcow2(tmp_path, "2G"), disk_format="qcow2")
    with pytest.raises(FatalVirtError, match="smaller than the image"):
        await driver.spawn(CTX, _instance(root_gb=1), image, None, NetworkInfo(),
                           BlockDeviceInfo())  # fmt: skip


async def test_image_cache_fetches_once_and_keeps_a_raw_image_raw(tmp_path: Path) -> None:
    """A "raw" image whose bytes look like qcow2 stays raw data: the format is given,
    never probed, so its header cannot name a backing file on the host."""
    header = b"QFI\xfb" + b"\0" * 508
    image = _image(tmp_path, header + b"\0" * (MiB - len(header)))
    cache = ImageCache(tmp_path / "_base")
    base = await cache.fetch(image)
    assert base.read_bytes()[:4] == b"QFI\xfb"
    _data_of(image).unlink()
    assert await cache.fetch(image) == base


async def test_image_cache_converts_qcow2_to_raw(tmp_path: Path) -> None:
    image = _image(tmp_path, _blank_qcow2(tmp_path, "4M"), disk_format="qcow2")
    base = await ImageCache(tmp_path / "_base").fetch(image)
    assert base.stat().st_size == 4 * MiB


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _data_of(image: ImageMeta) -> Path:
    assert image.location is not None
    return Path(image.location.removeprefix("file://"))


def _blank_qcow2(tmp_path: Path, size: str) -> bytes:
    path = tmp_path / "src.qcow2"
    _blank_qcow2_at(path, size)
    return path.read_bytes()


def _blank_qcow2_at(path: Path, size: str) -> None:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)


async def test_a_domain_libvirt_refuses_is_retryable_and_leaves_nothing(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    """An image asking for a machine type this QEMU does not have: libvirt refuses the
    domain, which another host might accept (a reschedule), and nothing stays here."""
    image = _image(tmp_path, b"\0" * MiB).model_copy(
        update={"properties": {"hw_machine_type": "no-such-machine"}}
    )
    instance = _instance()
    with pytest.raises(VirtError) as raised:
        await driver.spawn(CTX, instance, image, None, NetworkInfo(), BlockDeviceInfo())
    assert not isinstance(raised.value, FatalVirtError)
    assert raised.value.format_message().startswith("The hypervisor failed: ")
    assert not (driver.instances_path / instance.uuid).exists()
    assert await driver.list_instances() == []


async def test_volumes_keep_their_recorded_device_and_local_disks_follow(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    """An image-backed server's root is vda; a volume keeps the device the manager recorded
    (vdb), one whose recorded name is taken gets the next free one, and the ephemeral
    disk comes after."""

    def volume(name: str, device: str) -> dict[str, object]:
        path = tmp_path / f"{name}.qcow2"
        _blank_qcow2_at(path, "16M")
        return {
            "connection_info": {
                "driver_volume_type": "file",
                "data": {"device_path": str(path), "format": "qcow2", "volume_id": name},
                "serial": name,
            },
            "mount_device": device,
            "boot_index": None,
        }

    instance = _instance(ephemeral_gb=1)
    bdms = [volume("data-1", "/dev/vdb"), volume("data-2", "/dev/vda")]
    await driver.spawn(CTX, instance, _image(tmp_path, b"\0" * MiB), None, NetworkInfo(),
                       BlockDeviceInfo(block_device_mapping=bdms))  # fmt: skip
    xml = _domain_xml(driver, instance.uuid)
    disks = {
        d.find("target").get("dev"): d.findtext("serial")  # type: ignore[union-attr]
        for d in xml.iterfind("devices/disk")
        if d.get("device") == "disk"
    }
    assert disks == {"vda": None, "vdb": "data-1", "vdc": "data-2", "vdd": None}
