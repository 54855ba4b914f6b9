"""A network's wire on a host, from the database: a VXLAN network's bridge floods to the
other hosts on record, and again when one more joins; a flat network's bridge takes in
the uplink its physical network maps to. Built inside a namespace of the test's own."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cumulo.db.models.network import NetworkAgent
from cumulo.network.agent import linux_net
from cumulo.network.agent.wiring import Wiring
from cumulo.network.model import bridge_name
from cumulo.runtime import Runtime
from tests.unit.network.conftest import ADMIN, Neutron

LOCAL_IP = "192.0.2.10"


def _ip(namespace: str, *args: str) -> Any:
    result = subprocess.run(
        ["ip", "-j", "-n", namespace, *args], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout or "[]")


def _flood_list(namespace: str, device: str) -> set[str]:
    out = subprocess.run(
        ["bridge", "-j", "-n", namespace, "fdb", "show", "dev", device],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {e["dst"] for e in json.loads(out) if e["mac"] == "00:00:00:00:00:00"}


@pytest.fixture
def host() -> Iterator[str]:
    """A host namespace with an uplink ``upl0`` and the underlay address on ``ul0`` (each
    one end of a veth pair: this kernel has no dummy interfaces)."""
    namespace = f"wire-{secrets.token_hex(4)}"
    linux_net.ensure_namespace(namespace)
    try:
        for name in ("upl0", "ul0"):
            subprocess.run(
                ["ip", "-n", namespace, "link", "add", name, "type", "veth", "peer", f"{name}p"],
                check=True,
            )
        subprocess.run(
            ["ip", "-n", namespace, "addr", "add", f"{LOCAL_IP}/24", "dev", "ul0"], check=True
        )
        subprocess.run(["ip", "-n", namespace, "link", "set", "ul0", "up"], check=True)
        yield namespace
    finally:
        linux_net.delete_namespace(namespace)


async def test_vxlan_floods_to_the_other_hosts_and_flat_takes_its_uplink(
    runtime: Runtime, api: httpx.AsyncClient, host: str
) -> None:
    neutron = Neutron(api)
    flat = await neutron.network(
        ADMIN,
        **{"provider:network_type": "flat", "provider:physical_network": "public"},
    )
    tenant = await neutron.network(ADMIN)
    vni = tenant["provider:segmentation_id"]
    assert isinstance(vni, int) and vni >= 1
    wiring = Wiring(runtime, netns=host)
    wiring.local_ip, wiring.uplinks = LOCAL_IP, {"public": "upl0"}
    async with runtime.db.write() as session:
        session.add(NetworkAgent(host="other", local_ip="192.0.2.11"))
    await wiring.register(["this"])

    await wiring.wire([flat["id"], tenant["id"]])
    vxlan = linux_net.vxlan_name(vni)
    (uplink,) = _ip(host, "-d", "link", "show", "upl0")
    assert uplink["master"] == bridge_name(flat["id"])
    (device,) = _ip(host, "-d", "link", "show", vxlan)
    assert device["master"] == bridge_name(tenant["id"])
    assert _flood_list(host, vxlan) == {"192.0.2.11"}

    async with runtime.db.write() as session:
        session.add(NetworkAgent(host="third", local_ip="192.0.2.12"))
    await wiring.resync()
    assert await asyncio.to_thread(_flood_list, host, vxlan) == {"192.0.2.11", "192.0.2.12"}
