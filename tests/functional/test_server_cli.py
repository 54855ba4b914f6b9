"""Servers with the unmodified openstack CLI against `cumulo up --driver fake --compute-hosts 3`:
what a user types, end to end, and `cumulo audit` clean afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.cloud import CLIError, Cloud, free_port

pytestmark = pytest.mark.cli

DEMO = "cumulo-demo"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory.mktemp("cumulo"), free_port())
    c.up("--driver", "fake", "--compute-hosts", "3")
    try:
        _demo_resources(c, tmp_path_factory.mktemp("img"))
        yield c
    finally:
        c.down()


def _demo_resources(cloud: Cloud, scratch: Path) -> None:
    disk = scratch / "disk.raw"
    disk.write_bytes(b"\0" * 65536)
    cloud.osc(
        "image", "create", "--file", str(disk), "--disk-format", "raw",
        "--container-format", "bare", "--public", "tiny",
    )  # fmt: skip
    cloud.osc("network", "create", "demo-net", cloud=DEMO)
    cloud.osc(
        "subnet", "create", "--network", "demo-net", "--subnet-range", "10.1.0.0/24", "demo-sub",
        cloud=DEMO,
    )  # fmt: skip
    cloud.osc("keypair", "create", "demo-key", cloud=DEMO, as_json=False)


def _create(cloud: Cloud, name: str, *extra: str) -> dict[str, object]:
    created: dict[str, object] = cloud.osc(
        "server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--network", "demo-net",
        "--key-name", "demo-key", "--wait", *extra, name, cloud=DEMO,
    )  # fmt: skip
    return created


def test_create_show_list_events_delete(cloud: Cloud) -> None:
    created = _create(cloud, "web-1")
    assert created["status"] == "ACTIVE"
    assert created["key_name"] == "demo-key"
    assert created["addresses"]["demo-net"][0].startswith("10.1.0.")
    shown = cloud.osc("server", "show", "web-1", cloud=DEMO)
    assert shown["id"] == created["id"]
    assert shown["flavor"]["original_name"] == "m1.tiny"
    listed = {row["Name"]: row for row in cloud.osc("server", "list", cloud=DEMO)}
    assert listed["web-1"]["Status"] == "ACTIVE"
    assert listed["web-1"]["Image"] == "tiny"

    events = cloud.osc("server", "event", "list", "web-1", cloud=DEMO)
    assert [e["Action"] for e in events] == ["create"]
    event = cloud.osc("server", "event", "show", "web-1", events[0]["Request ID"], cloud=DEMO)
    assert event["action"] == "create"
    assert any(e["event"] == "compute__do_build_and_run_instance" for e in event["events"])

    cloud.osc("server", "delete", "--wait", "web-1", cloud=DEMO, as_json=False)
    assert "web-1" not in {row["Name"] for row in cloud.osc("server", "list", cloud=DEMO)}
    assert cloud.cumulo("audit", check=False).returncode == 0


def test_multi_create(cloud: Cloud) -> None:
    cloud.osc(
        "server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--network", "demo-net",
        "--min", "3", "--max", "5", "--wait", "many", cloud=DEMO,
    )  # fmt: skip
    names = sorted(r["Name"] for r in cloud.osc("server", "list", "--name", "many", cloud=DEMO))
    assert names == ["many-1", "many-2", "many-3", "many-4", "many-5"]
    for name in names:
        cloud.osc("server", "delete", "--wait", name, cloud=DEMO, as_json=False)


def test_anti_affinity_group_spreads_then_refuses(cloud: Cloud) -> None:
    group = cloud.osc(
        "server", "group", "create", "--policy", "anti-affinity", "spread", cloud=DEMO
    )
    hosts = set()
    for i in range(3):
        server = _create(cloud, f"spread-{i}", "--hint", f"group={group['id']}")
        shown = cloud.osc("server", "show", server["id"])  # admin sees the host
        hosts.add(shown["OS-EXT-SRV-ATTR:host"])
    assert hosts == {"compute-1", "compute-2", "compute-3"}
    with pytest.raises(CLIError) as refused:
        _create(cloud, "spread-3", "--hint", f"group={group['id']}")
    assert "Error creating server" in refused.value.result.stderr
    fourth = cloud.osc("server", "show", "spread-3", cloud=DEMO)
    assert fourth["status"] == "ERROR"
    assert "No valid host was found" in str(fourth["fault"])
    for i in range(4):
        cloud.osc("server", "delete", "--wait", f"spread-{i}", cloud=DEMO, as_json=False)
    cloud.osc("server", "group", "delete", "spread", cloud=DEMO, as_json=False)


def test_instance_quota_refuses_with_the_quota_message(cloud: Cloud) -> None:
    cloud.osc("quota", "set", "--instances", "2", "demo", as_json=False)
    try:
        _create(cloud, "q-1")
        _create(cloud, "q-2")
        with pytest.raises(CLIError) as refused:
            _create(cloud, "q-3")
        assert "Quota exceeded for instances" in refused.value.result.stderr
    finally:
        cloud.osc("quota", "set", "--instances", "10", "demo", as_json=False)
        for name in ("q-1", "q-2"):
            cloud.osc("server", "delete", "--wait", name, cloud=DEMO, as_json=False)


def test_boot_from_volume(cloud: Cloud) -> None:
    created = cloud.osc(
        "server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--boot-from-volume", "1",
        "--network", "demo-net", "--wait", "bfv", cloud=DEMO,
    )  # fmt: skip
    assert created["status"] == "ACTIVE"
    volumes = cloud.osc("volume", "list", cloud=DEMO)
    assert len(volumes) == 1 and volumes[0]["Status"] == "in-use"
    assert created["image"] in ("", "N/A (booted from volume)")
    cloud.osc("server", "delete", "--wait", "bfv", cloud=DEMO, as_json=False)
    # --boot-from-volume sends delete_on_termination false: the volume is the user's.
    volumes = cloud.osc("volume", "list", cloud=DEMO)
    assert [v["Status"] for v in volumes] == ["available"]
    cloud.osc("volume", "delete", volumes[0]["ID"], cloud=DEMO, as_json=False)
    assert cloud.cumulo("audit", check=False).returncode == 0


def _status(cloud: Cloud, name: str, want: str) -> str:
    """The server's status once it is ``want`` (or whatever it shows after 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        status = str(cloud.osc("server", "show", "-c", "status", name, cloud=DEMO)["status"])
        if status == want or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_stop_start_reboot(cloud: Cloud) -> None:
    # `server stop` and `server start` have no --wait in this openstackclient (10.5): poll.
    _create(cloud, "power-1")
    cloud.osc("server", "stop", "power-1", cloud=DEMO, as_json=False)
    assert _status(cloud, "power-1", "SHUTOFF") == "SHUTOFF"
    cloud.osc("server", "start", "power-1", cloud=DEMO, as_json=False)
    assert _status(cloud, "power-1", "ACTIVE") == "ACTIVE"
    cloud.osc("server", "reboot", "--wait", "power-1", cloud=DEMO, as_json=False)
    assert _status(cloud, "power-1", "ACTIVE") == "ACTIVE"
    cloud.osc("server", "reboot", "--hard", "--wait", "power-1", cloud=DEMO, as_json=False)
    assert _status(cloud, "power-1", "ACTIVE") == "ACTIVE"
    events = cloud.osc("server", "event", "list", "power-1", cloud=DEMO)
    assert [e["Action"] for e in events] == ["reboot", "reboot", "start", "stop", "create"]
    cloud.osc("server", "delete", "--wait", "power-1", cloud=DEMO, as_json=False)
