"""What the power-action and power-sync tests share: a booted server, its actions, its guest."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from cumulo.compute.manager import ComputeManager
from cumulo.context import RequestContext
from cumulo.notifications import TOPIC, Notification
from cumulo.virt.fake import FakeDriver, FakeGuest
from tests.boot_cloud import ADMIN, DEMO, BootCloud

SERVERS = "/compute/v2.1/servers"
STOP = {"os-stop": None}
START = {"os-start": None}
SOFT = {"reboot": {"type": "SOFT"}}
HARD = {"reboot": {"type": "HARD"}}


async def active_server(cloud: BootCloud, name: str = "vm") -> str:
    uuid = await cloud.create(name)
    await cloud.wait(uuid, "active")
    return uuid


async def act(
    cloud: BootCloud, uuid: str, body: dict[str, Any], headers: dict[str, str] = DEMO
) -> httpx.Response:
    return await cloud.api.post(f"{SERVERS}/{uuid}/action", headers=headers, json=body)


async def shown(cloud: BootCloud, uuid: str) -> dict[str, Any]:
    r = await cloud.api.get(f"{SERVERS}/{uuid}", headers=DEMO)
    assert r.status_code == 200, r.text
    server: dict[str, Any] = r.json()["server"]
    return server


async def settled(cloud: BootCloud, uuid: str, *vm_states: str) -> dict[str, Any]:
    """The server as the API shows it, once it rests in one of ``vm_states``."""
    await cloud.wait(uuid, *vm_states)
    return await shown(cloud, uuid)


async def failed(cloud: BootCloud, uuid: str, seconds: float = 10.0) -> dict[str, Any]:
    """The server once it rests in ERROR with its fault: the compute host writes the
    fault after the state, as Nova's ``wrap_instance_fault`` does."""
    await cloud.wait(uuid, "error")
    async with asyncio.timeout(seconds):
        while True:
            server = await shown(cloud, uuid)
            if "fault" in server:
                return server
            await asyncio.sleep(0.01)


def manager_of(cloud: BootCloud, host: str | None) -> ComputeManager:
    return next(m for m in cloud.computes() if m.host == host)


async def guest(cloud: BootCloud, uuid: str) -> FakeGuest:
    row = await cloud.instance(uuid)
    driver = manager_of(cloud, row.host).driver
    assert isinstance(driver, FakeDriver)
    return driver.guests[uuid]


async def actions(cloud: BootCloud, uuid: str) -> list[dict[str, Any]]:
    """The server's instance actions, newest first, each with its events (as admin sees them)."""
    r = await cloud.api.get(f"{SERVERS}/{uuid}/os-instance-actions", headers=ADMIN)
    assert r.status_code == 200, r.text
    found = []
    for listed in r.json()["instanceActions"]:
        url = f"{SERVERS}/{uuid}/os-instance-actions/{listed['request_id']}"
        found.append((await cloud.api.get(url, headers=ADMIN)).json()["instanceAction"])
    return found


async def fault_message(cloud: BootCloud, uuid: str) -> str | None:
    fault = await cloud.fault(uuid)
    return None if fault is None else fault.message


async def notifications(cloud: BootCloud) -> list[str]:
    """The event types of the notifications sent from now on, in order."""
    seen: list[str] = []

    async def on(ctx: RequestContext, msg: Notification) -> None:
        seen.append(msg.event_type)

    assert cloud.runtime.bus is not None
    await cloud.runtime.bus.serve(TOPIC, {Notification: on}, fanout=True)
    return seen


async def until(check: Any, seconds: float = 5.0) -> None:
    """Wait until ``check()`` is true."""
    async with asyncio.timeout(seconds):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)
