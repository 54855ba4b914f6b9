"""The network data plane with real guests and the unmodified openstack CLI: security
groups hold on a running guest and follow rule changes, each port's chains live as long
as it does, a dnsmasq that dies is started again, and ``cumulo audit`` finds and repairs
taps that are missing or stray.

The test logs into a guest over SSH from the network's DHCP namespace (``qdhcp-<id>``),
which sits on the guests' segment, and from there tries another guest's SSH port with
busybox ``nc``: dropbear's banner comes back only when the connection is let through.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cumulo.config import Settings
from cumulo.network.agent import linux_net
from cumulo.network.agent.data_plane import run_dir
from cumulo.network.agent.dhcp_view import dhcp_namespace
from cumulo.network.model import bridge_name, devname
from tests.functional.cloud import Cloud
from tests.functional.guests import (
    BOOT_TIMEOUT,
    DEMO,
    console_until,
    create_server,
    fixed_ip,
    guest_cloud,
    network_id,
    ssh_from,
    status,
    wait_status,
)
from tests.guest_image import built_guest_image

pytestmark = pytest.mark.cli

RULE_TIMEOUT = 10.0
"""How long a rule change may take to reach a running guest (the issue asks for 1 s; the
margin is the SSH round trips of the check itself on a loaded machine)."""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    config = "lost_tap_check_interval = 1\n"
    with guest_cloud(tmp_path_factory, "cumulo-data-plane", config) as c:
        yield c


def _group_open_to_ssh(cloud: Cloud, name: str) -> None:
    """A group whose members anyone reaches on port 22 (so the test can log in)."""
    cloud.osc("security", "group", "create", name, cloud=DEMO)
    cloud.osc(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
        name, cloud=DEMO,
    )  # fmt: skip


def _banner(cloud: Cloud, namespace: str, client: str, server: str) -> bool:
    """Whether ``client`` gets the SSH banner of ``server`` (a new TCP connection to 22)."""
    out = ssh_from(namespace, cloud, client, f"echo | nc -w 2 {server} 22 || true")
    return "SSH-2.0" in out


def _chains_of(cloud: Cloud, server: str) -> str:
    """The iptables rules of the server's port (what a failed check shows)."""
    port = str(cloud.osc("port", "list", "--server", server, cloud=DEMO)[0]["ID"])
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return "\n".join(line for line in saved.splitlines() if port[:10] in line)


def _until(check: Callable[[], bool], wanted: bool, what: str) -> float:
    """Seconds until ``check()`` is ``wanted``."""
    started = time.monotonic()
    deadline = started + RULE_TIMEOUT
    while True:
        if check() == wanted:
            return time.monotonic() - started
        assert time.monotonic() < deadline, f"{what} did not happen in {RULE_TIMEOUT:.0f} s"
        time.sleep(0.5)


def test_a_rule_opens_and_closes_a_port_on_a_running_guest(cloud: Cloud) -> None:
    marker = built_guest_image().marker
    _group_open_to_ssh(cloud, "client")
    target = create_server(cloud, "vm-target", "--image", "guest")
    client = create_server(cloud, "vm-client", "--image", "guest", "--security-group", "client")
    target_ip, client_ip = fixed_ip(target), fixed_ip(client)
    console_until(cloud, "vm-target", f"cumulo-guest: ip {target_ip}", marker)
    console_until(cloud, "vm-client", f"cumulo-guest: ip {client_ip}", marker)
    namespace = dhcp_namespace(network_id(cloud))

    # The default group lets in only its own members, and the client is not one (the
    # client itself is reached from the DHCP namespace: its group opens 22 to anyone).
    assert not _banner(cloud, namespace, client_ip, target_ip), _chains_of(cloud, "vm-target")
    rule = cloud.osc(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
        "default", cloud=DEMO,
    )  # fmt: skip
    _until(lambda: _banner(cloud, namespace, client_ip, target_ip), True, "the rule opening 22")
    cloud.osc("security", "group", "rule", "delete", str(rule["id"]), cloud=DEMO, as_json=False)
    _until(lambda: _banner(cloud, namespace, client_ip, target_ip), False, "closing 22 again")

    for name in ("vm-target", "vm-client"):
        cloud.osc("server", "delete", "--wait", name, cloud=DEMO, as_json=False)


def test_firewall_chains_follow_the_cloud(cloud: Cloud) -> None:
    """Each guest port has its chains while it lives; none is left after its delete."""
    server = create_server(cloud, "vm-chains", "--image", "guest")
    port = str(cloud.osc("port", "list", "--server", "vm-chains", cloud=DEMO)[0]["ID"])
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert f"i{port[:10]}" in saved and f"o{port[:10]}" in saved, saved[-2000:]
    assert server["status"] == "ACTIVE"
    cloud.osc("server", "delete", "--wait", "vm-chains", cloud=DEMO, as_json=False)
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert port[:10] not in saved


def test_a_killed_dnsmasq_is_started_again_and_serves(cloud: Cloud) -> None:
    marker = built_guest_image().marker
    create_server(cloud, "vm-before", "--image", "guest")
    pid_file = run_dir(Settings(state_dir=cloud.state_dir)) / "dhcp" / network_id(cloud) / "pid"
    killed = int(pid_file.read_text())
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + RULE_TIMEOUT
    while not _restarted(pid_file, killed):
        assert time.monotonic() < deadline, "dnsmasq was not started again"
        time.sleep(0.5)
    after = create_server(cloud, "vm-after", "--image", "guest")
    console_until(cloud, "vm-after", f"cumulo-guest: ip {fixed_ip(after)}", marker)
    for name in ("vm-before", "vm-after"):
        cloud.osc("server", "delete", "--wait", name, cloud=DEMO, as_json=False)


def _restarted(pid_file: Path, killed: int) -> bool:
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return False
    return pid != killed and Path(f"/proc/{pid}").exists()


def test_a_guest_cannot_send_from_an_address_or_mac_not_its_own(cloud: Cloud) -> None:
    marker = built_guest_image().marker
    _group_open_to_ssh(cloud, "ssh-in")
    server = create_server(cloud, "vm-spoof", "--image", "guest", "--security-group", "ssh-in")
    address = fixed_ip(server)
    console_until(cloud, "vm-spoof", f"cumulo-guest: ip {address}", marker)
    namespace = dhcp_namespace(network_id(cloud))
    peer = _dhcp_address(namespace)
    ping = f"ping -c 1 -W 2 -I {{}} {peer} >/dev/null 2>&1 && echo reached || echo blocked"

    assert ssh_from(namespace, cloud, address, ping.format(address)).strip() == "reached"
    spoofed = "10.3.0.250"
    alias = f"{spoofed}/24 dev eth0"
    command = f"ip addr add {alias}; {ping.format(spoofed)}; ip addr del {alias}"
    out = ssh_from(namespace, cloud, address, command)
    assert out.strip() == "blocked"

    # A new MAC: its frames are dropped until the port's own is back. The guest forgets its
    # neighbours first, so its ping starts with an ARP request from the new MAC, which the
    # peer would answer (and learn) were it let through.
    mac = "$(cat /sys/class/net/eth0/address)"
    swap = "ip link set eth0 address {}; ip neigh flush dev eth0 >/dev/null 2>&1"
    command = (
        f"own={mac}; {swap.format('fa:16:3e:00:0b:ad')}; "
        f"r=$({ping.format(address)}); {swap.format('$own')}; echo $r"
    )
    assert ssh_from(namespace, cloud, address, command).strip() == "blocked"
    assert ssh_from(namespace, cloud, address, ping.format(address)).strip() == "reached"
    cloud.osc("server", "delete", "--wait", "vm-spoof", cloud=DEMO, as_json=False)


def _dhcp_address(namespace: str) -> str:
    """The DHCP port's address in its namespace (the one that is not the metadata's)."""
    shown = subprocess.run(
        ["ip", "-n", namespace, "-4", "-o", "addr", "show"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for line in shown.splitlines():
        address = line.split()[3].partition("/")[0]
        if not address.startswith(("127.", "169.254.")):
            return address
    raise AssertionError(f"no DHCP address in {namespace}:\n{shown}")


def test_a_tap_deleted_under_a_running_guest_is_repaired(cloud: Cloud) -> None:
    """QEMU cannot open a tap made again: the cloud reboots the guest hard, and says so."""
    marker = built_guest_image().marker
    cloud.osc("security", "group", "create", "ping-in", cloud=DEMO)
    cloud.osc("security", "group", "rule", "create", "--protocol", "icmp", "ping-in", cloud=DEMO)
    server = create_server(cloud, "vm-cut", "--image", "guest", "--security-group", "ping-in")
    address = fixed_ip(server)
    console_until(cloud, "vm-cut", f"cumulo-guest: ip {address}", marker)
    namespace = dhcp_namespace(network_id(cloud))
    assert _pings(namespace, address)
    port = str(cloud.osc("port", "list", "--server", "vm-cut", cloud=DEMO)[0]["ID"])

    subprocess.run(["ip", "link", "del", devname(port)], check=True)
    assert not _pings(namespace, address)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while not _pings(namespace, address):
        assert time.monotonic() < deadline, "the guest was not reachable again"
    events = cloud.osc("server", "event", "list", "vm-cut", cloud=DEMO)
    assert [e["Action"] for e in events] == ["reboot", "create"], events
    assert status(cloud, "vm-cut") == "ACTIVE"
    cloud.osc("server", "delete", "--wait", "vm-cut", cloud=DEMO, as_json=False)


def _pings(namespace: str, address: str) -> bool:
    """Whether ``address`` answers one ping from ``namespace`` within 2 s."""
    ping = ["ip", "netns", "exec", namespace, "busybox", "ping", "-c", "1", "-W", "2", address]
    return subprocess.run(ping, capture_output=True, check=False).returncode == 0


def test_audit_finds_a_missing_and_a_stray_tap_and_repairs_them(cloud: Cloud) -> None:
    """A stopped server keeps its tap (its guest, when started, opens it): one deleted is
    missing, and left to the audit (a running guest's is the cloud's own to repair)."""
    create_server(cloud, "vm-audit", "--image", "guest")
    cloud.osc("server", "stop", "vm-audit", cloud=DEMO, as_json=False)
    wait_status(cloud, "vm-audit", "SHUTOFF")
    port = str(cloud.osc("port", "list", "--server", "vm-audit", cloud=DEMO)[0]["ID"])
    tap, stray = devname(port), f"tap{secrets.token_hex(5)}"
    bridge = bridge_name(network_id(cloud))
    subprocess.run(["ip", "link", "del", tap], check=True)
    subprocess.run(["ip", "tuntap", "add", "dev", stray, "mode", "tap"], check=True)
    try:
        subprocess.run(["ip", "link", "set", stray, "master", bridge], check=True)
        audit = cloud.cumulo("audit", check=False)
        assert audit.returncode == 1, audit.stdout
        assert f"{tap} is missing from {bridge}" in audit.stdout
        assert f"tap          {stray}  on {bridge}" in audit.stdout
        assert cloud.cumulo("audit", "--repair", check=False).returncode == 1
        assert cloud.cumulo("audit", check=False).returncode == 0
        assert linux_net.link_exists(tap) and not linux_net.link_exists(stray)
    finally:
        subprocess.run(["ip", "link", "del", stray], check=False, capture_output=True)
    cloud.osc("server", "delete", "--wait", "vm-audit", cloud=DEMO, as_json=False)
