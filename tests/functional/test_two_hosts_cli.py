"""Two compute hosts that are two hosts: each ``cumulo serve compute-host`` runs with the
libvirt driver inside a network namespace of its own, and the two reach each other only
over an underlay bridge (10.77.0.0/24), the way two machines share a switch.

The control plane (api, image, network, volume, conductor, scheduler) runs as processes
of this machine on PostgreSQL and RabbitMQ. A host in its namespace reaches PostgreSQL
through its unix socket and RabbitMQ through a socat relay (a unix socket is a file, not
an address, so it crosses network namespaces). The hosts enter their namespace with
``nsenter --net`` and keep this machine's mounts, so the DHCP and router namespaces they
make are visible here.

With the unmodified openstack CLI: a guest on each host gets its DHCP lease from the one
dnsmasq of its network, wherever that runs, and its metadata over HTTP; the two guests
ping each other across hosts over the network's VXLAN segment; a guest of another
project, on a network with the same addresses, reaches neither.
"""

from __future__ import annotations

import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from cumulo.network.agent import linux_net
from cumulo.network.agent.dhcp_view import dhcp_namespace
from tests.databases import fresh_database
from tests.functional.cloud import CUMULO, free_port, osc, run
from tests.functional.guests import ssh_with_key
from tests.functional.test_distributed import _serve, _wait_serving
from tests.functional.test_distributed_boot import _wait_hosts
from tests.guest_image import built_guest_image

pytestmark = [pytest.mark.cli, pytest.mark.rabbitmq, pytest.mark.postgresql]

DEMO = "cumulo-demo"
SERVICES = ("image", "network", "volume", "conductor", "scheduler")
HOSTS = {"compute-a": "10.77.0.2", "compute-b": "10.77.0.3"}
PG_SOCKET_DIR = "/var/run/postgresql"
BOOT_TIMEOUT = 240.0


def _sh(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, f"{argv}: {result.stderr}"


@contextmanager
def _underlay(tag: str) -> Iterator[dict[str, str]]:
    """A namespace per host, each with ``eth0`` on a bridge of this machine; their names."""
    bridge = f"ul{tag}"
    namespaces = {host: f"h{host[-1]}{tag}" for host in HOSTS}
    _sh("ip", "link", "add", bridge, "type", "bridge")
    try:
        _sh("ip", "link", "set", bridge, "up")
        for host, address in HOSTS.items():
            namespace, end = namespaces[host], f"ul{host[-1]}{tag}"
            _sh("ip", "netns", "add", namespace)
            _sh(
                "ip", "link", "add", end, "type", "veth", "peer", "name", "eth0", "netns", namespace
            )
            _sh("ip", "link", "set", end, "master", bridge, "up")
            _sh("ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
            _sh("ip", "-n", namespace, "link", "set", "eth0", "up")
            _sh("ip", "-n", namespace, "link", "set", "lo", "up")
        yield namespaces
    finally:
        for namespace in namespaces.values():
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


@contextmanager
def _amqp_relay(namespace: str, scratch: Path) -> Iterator[None]:
    """RabbitMQ at 127.0.0.1:5672 inside ``namespace``, relayed to this machine's."""
    sock = scratch / f"amqp-{namespace}.sock"
    outside = subprocess.Popen(
        ["socat", f"UNIX-LISTEN:{sock},fork", "TCP:127.0.0.1:5672"], stderr=subprocess.DEVNULL
    )
    inside = subprocess.Popen(
        [
            "nsenter", f"--net=/run/netns/{namespace}", "socat",
            "TCP-LISTEN:5672,bind=127.0.0.1,fork,reuseaddr", f"UNIX-CONNECT:{sock}",
        ],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        for process in (inside, outside):
            process.terminate()
            process.wait(timeout=10)


def _config(path: Path, state: Path, database_url: str, exchange: str, extra: str = "") -> Path:
    path.write_text(
        f'state_dir = "{state}"\n\n[api]\nport = 1\n\n'
        f'[database]\nurl = "{database_url}"\n\n'
        f'[bus]\ntransport = "rabbit"\nexchange = "{exchange}"\n\n' + extra
    )
    return path


def _serve_host(namespace: str, host: str, config: Path, logs: Path) -> subprocess.Popen[bytes]:
    """``cumulo serve compute-host`` inside ``namespace`` (its network only)."""
    command = [
        "nsenter", f"--net=/run/netns/{namespace}", CUMULO, "serve", "compute-host",
        "--config", str(config), "--host", host,
    ]  # fmt: skip
    log = open(logs / f"{host}.log", "wb")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)


@contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def database_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with fresh_database("postgresql", tmp_path) as url:
        name = url.rsplit("/", 1)[1]
        yield f"postgresql+asyncpg://postgres@/{name}?host={PG_SOCKET_DIR}"


@pytest.fixture
def clouds(tmp_path: Path, database_url: str) -> Iterator[Path]:
    """The control plane here, a compute host in each namespace; the clouds.yaml (the hosts'
    namespaces are listed beside it, in ``namespaces``, for what a failure prints)."""
    tag = secrets.token_hex(3)
    exchange = f"cumulo-test-{uuid.uuid4().hex}"
    control = _config(tmp_path / "cumulo.toml", tmp_path / "state", database_url, exchange)
    port = free_port()
    run([CUMULO, "db", "upgrade", "--config", str(control)])
    clouds = tmp_path / "clouds.yaml"
    env = {"CUMULO_API__PORT": str(port)}
    run([CUMULO, "bootstrap", "--config", str(control), "--clouds-yaml", str(clouds)], env=env)
    with ExitStack() as stack:
        namespaces = stack.enter_context(_underlay(tag))
        (tmp_path / "namespaces").write_text("\n".join(namespaces.values()))
        served: list[str] = []
        stack.callback(_remove_dhcp_namespaces, served)  # once the hosts have stopped
        processes = stack.enter_context(_processes())
        api = _serve("api", control, port, tmp_path / "api.log")
        processes.append(api)
        processes += [_serve(s, control, free_port(), tmp_path / f"{s}.log") for s in SERVICES]
        for host, address in HOSTS.items():
            stack.enter_context(_amqp_relay(namespaces[host], tmp_path))
            config = _config(
                tmp_path / f"{host}.toml", tmp_path / host, database_url, exchange,
                f'[compute]\ndriver = "libvirt"\n\n[network]\nlocal_ip = "{address}"\n',
            )  # fmt: skip
            processes.append(_serve_host(namespaces[host], host, config, tmp_path))
        _wait_serving(f"http://127.0.0.1:{port}", api)
        _wait_hosts(clouds, list(HOSTS))
        yield clouds
        served += [str(n["ID"]) for n in osc(clouds, "network", "list")]
        for server in osc(clouds, "server", "list", "--all-projects"):
            osc(clouds, "server", "delete", "--wait", server["ID"], as_json=False)


def _remove_dhcp_namespaces(network_ids: list[str]) -> None:
    """The hosts' DHCP namespaces: in the machine's list of namespaces, not their own (a
    distributed cloud has no ``cumulo down`` to remove them)."""
    for network_id in network_ids:
        linux_net.delete_namespace(dhcp_namespace(network_id))


def _boot(clouds: Path, name: str, project: str, host: str | None = None) -> tuple[str, str]:
    """Boot on the project's network (on ``host``: admin's ``--availability-zone
    nova:<host>``) with a config drive (the guest image's keys come from it); the server's
    id and address."""
    where = ("--availability-zone", f"nova:{host}") if host else ()
    server = osc(
        clouds, "server", "create", "--flavor", "c1.nano", "--image", "guest",
        "--network", f"net-{project}", "--security-group", f"open-{project}",
        "--key-name", "key", "--config-drive", "True", *where, "--wait", name, cloud=project,
    )  # fmt: skip
    if host is not None:
        assert server["OS-EXT-SRV-ATTR:host"] == host, server
    ((address,),) = server["addresses"].values()
    return str(server["id"]), str(address)


def _console_until(clouds: Path, name: str, *wanted: str) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    log = ""
    while time.monotonic() < deadline:
        log = osc(clouds, "console", "log", "show", name, as_json=False).stdout
        if all(w in log for w in wanted):
            return
        time.sleep(2)
    raise AssertionError(
        f"console of {name} never showed {wanted}:\n{log[-600:]}\n{_plumbing(clouds)}"
    )


def _plumbing(clouds: Path) -> str:
    """The hosts' links, forwarding databases and filter counters (what a failure shows)."""
    shown = []
    for namespace in (clouds.parent / "namespaces").read_text().split():
        for command in (("ip", "-d", "-br", "link"), ("bridge", "fdb"), ("iptables-save", "-c")):
            out = subprocess.run(
                ["ip", "netns", "exec", namespace, *command],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            shown.append(f"--- {namespace}: {' '.join(command)}\n{out.stdout}{out.stderr}")
    return "\n".join(shown)


def test_guests_on_two_hosts_share_their_network_and_no_other(clouds: Path) -> None:
    guest = built_guest_image()
    key = clouds.parent / "key"
    made = subprocess.run(
        ["dropbearkey", "-t", "ed25519", "-f", str(key)], capture_output=True, text=True, check=True
    )
    public = next(line for line in made.stdout.splitlines() if line.startswith("ssh-"))
    (clouds.parent / "key.pub").write_text(public + "\n")
    osc(
        clouds, "image", "create", "--file", str(guest.disk), "--disk-format", "qcow2",
        "--container-format", "bare", "--public", "guest",
    )  # fmt: skip
    pools = {"cumulo": "start=10.5.0.10,end=10.5.0.99", DEMO: "start=10.5.0.100,end=10.5.0.199"}
    for project, pool in pools.items():
        osc(clouds, "keypair", "create", "--public-key", f"{key}.pub", "key", cloud=project)
        osc(clouds, "network", "create", f"net-{project}", cloud=project)
        osc(
            clouds, "subnet", "create", "--network", f"net-{project}", "--subnet-range",
            "10.5.0.0/24", "--allocation-pool", pool, f"sub-{project}", cloud=project,
        )  # fmt: skip
        osc(clouds, "security", "group", "create", f"open-{project}", cloud=project)
        for protocol in ("icmp", "tcp"):
            osc(
                clouds, "security", "group", "rule", "create", "--protocol", protocol,
                f"open-{project}", cloud=project,
            )  # fmt: skip
    net = str(osc(clouds, "network", "show", "net-cumulo")["id"])
    demo_net = osc(clouds, "network", "show", f"net-{DEMO}")
    assert (
        demo_net["provider:segmentation_id"]
        != (osc(clouds, "network", "show", net)["provider:segmentation_id"])
    )

    first_id, first = _boot(clouds, "vm-a", "cumulo", "compute-a")
    second_id, second = _boot(clouds, "vm-b", "cumulo", "compute-b")
    for name, uuid_, address in (("vm-a", first_id, first), ("vm-b", second_id, second)):
        _console_until(
            clouds, name, f"cumulo-guest: ip {address}", f"metadata-uuid {uuid_}", guest.marker
        )
    dhcp_ports = osc(clouds, "port", "list", "--network", net, "--device-owner", "network:dhcp")
    assert len(dhcp_ports) == 1, dhcp_ports

    inside = dhcp_namespace(net)
    out = ssh_with_key(
        inside, clouds.parent / "key", first, f"ping -c 2 -W 2 {second} && echo reached"
    )
    assert "reached" in out, out

    stranger_id, stranger = _boot(clouds, "vm-c", DEMO)
    _console_until(clouds, stranger_id, f"cumulo-guest: ip {stranger}", guest.marker)
    out = ssh_with_key(
        dhcp_namespace(str(demo_net["id"])), clouds.parent / "key", stranger,
        f"ping -c 2 -W 2 {first} || ping -c 2 -W 2 {second} || echo isolated",
    )  # fmt: skip
    assert "isolated" in out, out
