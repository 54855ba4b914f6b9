"""A cloud with the libvirt driver for the CLI tests of real guests, and what they do with
it: boot on cumulo's guest image, read the serial console, wait for a status, log in."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.functional.cloud import Cloud, free_port
from tests.guest_image import built_guest_image

DEMO = "cumulo-demo"
BOOT_TIMEOUT = 150.0
SSH_TIMEOUT = 30.0


@contextmanager
def guest_cloud(
    tmp_path_factory: pytest.TempPathFactory, name: str, config: str = ""
) -> Iterator[Cloud]:
    """A cloud with the guest image, the demo project's ``guest-net`` (10.3.0.0/24) and
    key pair ``guest-key``, whose private key is ``<state>/guest-key``."""
    guest = built_guest_image()
    state = tmp_path_factory.mktemp(name)
    (state / "cumulo.toml").write_text("[compute]\nsync_power_state_interval = 2\n" + config)
    c = Cloud(state, free_port())
    c.up("--driver", "libvirt", "--config", str(state / "cumulo.toml"))
    try:
        c.osc(
            "image", "create", "--file", str(guest.disk), "--disk-format", "qcow2",
            "--container-format", "bare", "--public", "guest",
        )  # fmt: skip
        c.osc("network", "create", "guest-net", cloud=DEMO)
        c.osc(
            "subnet", "create", "--network", "guest-net", "--subnet-range", "10.3.0.0/24",
            "guest-sub", cloud=DEMO,
        )  # fmt: skip
        made = subprocess.run(
            ["dropbearkey", "-t", "ed25519", "-f", str(state / "guest-key")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        public = next(line for line in made.stdout.splitlines() if line.startswith("ssh-"))
        (state / "guest-key.pub").write_text(public + "\n")
        c.osc(
            "keypair", "create", "--public-key", str(state / "guest-key.pub"), "guest-key",
            cloud=DEMO,
        )  # fmt: skip
        yield c
    finally:
        c.down()


def create_server(cloud: Cloud, name: str, *extra: str) -> dict[str, object]:
    created: dict[str, object] = cloud.osc(
        "server", "create", "--flavor", "c1.nano", "--network", "guest-net",
        "--key-name", "guest-key", "--wait", *extra, name, cloud=DEMO,
    )  # fmt: skip
    return created


def fixed_ip(server: dict[str, object]) -> str:
    """The one address ``server show`` lists (``{"guest-net": ["10.3.0.7"]}`` in JSON)."""
    addresses = server["addresses"]
    assert isinstance(addresses, dict), addresses
    (found,) = addresses["guest-net"]
    return str(found)


def console_until(cloud: Cloud, name: str, *wanted: str) -> str:
    deadline = time.monotonic() + BOOT_TIMEOUT
    log = ""
    while time.monotonic() < deadline:
        log = cloud.osc("console", "log", "show", name, cloud=DEMO, as_json=False).stdout
        if all(w in log for w in wanted):
            return log
        time.sleep(2)
    raise AssertionError(f"console of {name} never showed {wanted}:\n{log[-2000:]}")


def status(cloud: Cloud, name: str) -> str:
    return str(cloud.osc("server", "show", name, cloud=DEMO)["status"])


def wait_status(cloud: Cloud, name: str, wanted: str, seconds: float = 90) -> None:
    """``server stop``/``start`` have no ``--wait`` in this openstackclient."""
    deadline = time.monotonic() + seconds
    while (now := status(cloud, name)) != wanted:
        assert time.monotonic() < deadline, f"{name} is {now}, not {wanted}"
        time.sleep(1)


def ssh_from(namespace: str, cloud: Cloud, address: str, command: str) -> str:
    """``command``'s output on the guest at ``address``, logged into as root over SSH from
    ``namespace`` (a network's DHCP namespace is on the guests' segment)."""
    return ssh_with_key(namespace, cloud.state_dir / "guest-key", address, command)


def ssh_with_key(namespace: str, key: Path, address: str, command: str) -> str:
    """``ssh_from`` with the private key ``key`` (dropbear's; its directory is HOME)."""
    result = subprocess.run(
        [
            "ip", "netns", "exec", namespace, "dbclient", "-y", "-y",
            "-i", str(key), f"root@{address}", command,
        ],
        capture_output=True, text=True, errors="replace", timeout=SSH_TIMEOUT,
        env={**os.environ, "HOME": str(key.parent)}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"ssh {address} {command!r}: {result.stderr}"
    return result.stdout


def network_id(cloud: Cloud, name: str = "guest-net") -> str:
    return str(cloud.osc("network", "show", name, cloud=DEMO)["id"])
