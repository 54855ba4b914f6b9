"""DHCP for a network's guests: one dnsmasq per network, static leases only.

What Neutron's DHCP agent does with dnsmasq, reduced to DHCPv4: the caller fills
a `DhcpNetwork` from the database and a `Dnsmasq` serves it from the network's
namespace. Only MACs listed in the hosts file get an address (the ranges are
``static``), and each gets exactly its port's fixed IP.

DNS is off (``--port=0``): dnsmasq answers DHCP only, so there is no
``addn_hosts`` file, and guests get DNS servers only when the subnet names them.
IPv6 subnets are not served (no DHCPv6, no RA).

Files, under ``<state_dir>/<network_id>/``:

    host   --dhcp-hostsfile   ``mac,hostname.domain.,ip`` per fixed IP (Neutron's form)
    opts   --dhcp-optsfile    router, DNS servers, classless routes, MTU per subnet tag
    pid    --pid-file         written by dnsmasq; finds a dnsmasq left by an earlier agent
    log    --log-facility     dnsmasq's DHCP log (``--log-dhcp``)

dnsmasq drops root after start-up and re-reads ``host`` and ``opts`` on SIGHUP as
that unprivileged user, so the files are 0644 and every directory above them must
be searchable by others; `Dnsmasq.start` refuses a state dir where that fails
rather than let a later reload silently serve nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import shutil
import signal
import stat
import tempfile
from pathlib import Path

from cumulo.network.agent.dhcp_files import (
    LEASE_SECONDS,
    DhcpError,
    DhcpHost,
    DhcpNetwork,
    DhcpSubnet,
    hosts_file,
    opts_file,
)

__all__ = [
    "DhcpError",
    "DhcpHost",
    "DhcpNetwork",
    "DhcpSubnet",
    "Dnsmasq",
    "Reload",
    "hosts_file",
    "opts_file",
]

LOG = logging.getLogger(__name__)

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


def _leases_gone(old: DhcpNetwork, new: DhcpNetwork) -> list[tuple[str, str]]:
    """The (address, MAC) pairs ``old`` served and ``new`` does not."""
    kept = {(h.ip, h.mac) for h in new.hosts}
    return sorted((h.ip, h.mac) for h in old.hosts if (h.ip, h.mac) not in kept)


class Reload(enum.Enum):
    UNCHANGED = "unchanged"
    SIGNALLED = "signalled"
    RESTARTED = "restarted"


class Dnsmasq:
    """The dnsmasq serving one network, run as a child of this process."""

    def __init__(
        self, network: DhcpNetwork, state_dir: Path, namespace: str, interface: str
    ) -> None:
        self.network = network
        self.namespace = namespace
        self.interface = interface
        self.network_dir = Path(state_dir).absolute() / network.id
        self._process: asyncio.subprocess.Process | None = None
        self._argv: list[str] = []
        self._wanted = False
        self._lock = asyncio.Lock()

    @property
    def hosts_path(self) -> Path:
        return self.network_dir / "host"

    @property
    def opts_path(self) -> Path:
        return self.network_dir / "opts"

    @property
    def pid_path(self) -> Path:
        return self.network_dir / "pid"

    @property
    def log_path(self) -> Path:
        return self.network_dir / "log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self.running else None

    def argv(self, network: DhcpNetwork) -> list[str]:
        """The command line; what it holds only changes with a restart, not a SIGHUP."""
        ranges = [
            f"--dhcp-range=set:{s.tag},{s.network.network_address},static,"
            f"{s.network.netmask},{LEASE_SECONDS}s"
            for s in network.served_subnets
        ]
        lease_max = sum(s.network.num_addresses for s in network.served_subnets)
        return [
            *("ip", "netns", "exec", self.namespace, "dnsmasq"),
            *("--keep-in-foreground", "--no-hosts", "--no-resolv", "--port=0"),
            f"--pid-file={self.pid_path}",
            f"--dhcp-hostsfile={self.hosts_path}",
            f"--dhcp-optsfile={self.opts_path}",
            f"--interface={self.interface}",
            *("--except-interface=lo", "--bind-interfaces"),
            *ranges,
            f"--dhcp-lease-max={lease_max}",
            f"--domain={network.domain}",
            *("--conf-file=/dev/null", "--leasefile-ro", "--dhcp-authoritative"),
            "--log-dhcp",
            f"--log-facility={self.log_path}",
        ]

    async def start(self) -> None:
        """Write the files and start dnsmasq; returns once it is serving.

        A dnsmasq that an earlier run left behind for this network (found by its
        pid file) is stopped first. Starting a running instance does nothing.
        """
        async with self._lock:
            if self.running:
                return
            self._check_servable(self.network)
            await asyncio.to_thread(self._prepare_dir)
            await self._write_files(self.network)
            await self._stop_stale()
            self._wanted = True
            await self._spawn(self.argv(self.network))

    async def reload(self, network: DhcpNetwork) -> Reload:
        """Serve ``network`` from now on, disturbing dnsmasq as little as possible.

        Changed hosts or options: the files are replaced and dnsmasq gets SIGHUP.
        Changed subnets or domain (its command line): dnsmasq is restarted.

        A host gone (a port deleted, or its address moved to another port) restarts
        dnsmasq too: it keeps its leases across a SIGHUP and would not offer that
        address to the next port that gets it (a new MAC) until the old lease ran out.
        The restart forgets every lease; the other guests renew theirs as before (it is
        authoritative). ``dhcp_release``, Neutron's way, did not reach a dnsmasq bound
        to its interface here.
        """
        if network.id != self.network.id:
            raise ValueError(f"reload of network {self.network.id} with {network.id}")
        async with self._lock:
            if not self._wanted:
                raise DhcpError(network_id=network.id, reason="reload before start")
            self._check_servable(network)
            gone = _leases_gone(self.network, network)
            self.network = network
            changed = await self._write_files(network)
            argv = self.argv(network)
            if argv != self._argv or not self.running or gone:
                await self._terminate()
                await self._spawn(argv)
                return Reload.RESTARTED
            if not changed:
                return Reload.UNCHANGED
            assert self._process is not None
            # Should dnsmasq have just died, the watcher restarts it on the new files.
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGHUP)
            return Reload.SIGNALLED

    async def ensure_running(self) -> bool:
        """Start dnsmasq again if it died since `start`; return whether it did."""
        async with self._lock:
            if not self._wanted or self.running:
                return False
            process = self._process
            assert process is not None
            LOG.warning(
                "dnsmasq for network %s (pid %s) exited with %s: %s; restarting",
                self.network.id,
                process.pid,
                process.returncode,
                await _stderr_tail(process),
            )
            await self._spawn(self._argv)
            return True

    async def watch(self, interval: float) -> None:
        """Call `ensure_running` every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.ensure_running()
            except (DhcpError, OSError) as exc:
                LOG.error("dnsmasq for network %s not restarted: %s", self.network.id, exc)

    async def stop(self) -> None:
        """Stop dnsmasq (ours, or one an earlier run left) and remove the network's files."""
        async with self._lock:
            self._wanted = False
            await self._terminate()
            await self._stop_stale()
            await asyncio.to_thread(shutil.rmtree, self.network_dir, True)

    def _check_servable(self, network: DhcpNetwork) -> None:
        if not network.served_subnets:
            raise DhcpError(network_id=network.id, reason="no DHCP-enabled IPv4 subnet")

    def _prepare_dir(self) -> None:
        self.network_dir.mkdir(parents=True, exist_ok=True)
        self.network_dir.chmod(0o755)
        for directory in (self.network_dir, *self.network_dir.parents):
            if not directory.stat().st_mode & stat.S_IXOTH:
                raise DhcpError(
                    network_id=self.network.id,
                    reason=f"{directory} is not searchable by other users, so dnsmasq "
                    "could not re-read its files after dropping root",
                )

    async def _write_files(self, network: DhcpNetwork) -> bool:
        contents = {self.hosts_path: hosts_file(network), self.opts_path: opts_file(network)}
        results = await asyncio.to_thread(
            lambda: [_replace_if_changed(path, text) for path, text in contents.items()]
        )
        return any(results)

    async def _spawn(self, argv: list[str]) -> None:
        await asyncio.to_thread(self.pid_path.unlink, True)
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self._process, self._argv = process, argv
        await self._wait_serving(process)
        LOG.info("dnsmasq for network %s started, pid %s", self.network.id, process.pid)

    async def _wait_serving(self, process: asyncio.subprocess.Process) -> None:
        """Wait for dnsmasq's pid file, which it writes once its DHCP socket is bound.

        ``ip netns exec`` execs dnsmasq in place, so the child's pid is dnsmasq's.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while loop.time() < deadline:
            if process.returncode is not None:
                reason = f"dnsmasq exited with {process.returncode}: {await _stderr_tail(process)}"
                raise DhcpError(network_id=self.network.id, reason=reason)
            if await asyncio.to_thread(_read_pid, self.pid_path) == process.pid:
                return
            await asyncio.sleep(0.01)
        await self._terminate()
        reason = f"dnsmasq did not start within {START_TIMEOUT:.0f} s"
        raise DhcpError(network_id=self.network.id, reason=reason)

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def _stop_stale(self) -> None:
        """Stop a dnsmasq whose command line names our pid file but is not our child."""
        pid = await asyncio.to_thread(_read_pid, self.pid_path)
        if pid is None or pid == self.pid or not _is_ours(pid, self.pid_path):
            return
        LOG.warning("stopping dnsmasq pid %s left for network %s", pid, self.network.id)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = loop.time() + STOP_TIMEOUT
            while loop.time() < deadline:
                if not _alive(pid):
                    return
                await asyncio.sleep(0.01)


def _replace_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` by rename (dnsmasq never reads half a file); False if already there."""
    with contextlib.suppress(FileNotFoundError):
        if path.read_text() == text:
            return False
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as tmp:
        tmp.write(text)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_ours(pid: int, pid_path: Path) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"--pid-file={pid_path}".encode() in argv


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie has already stopped serving."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


async def _stderr_tail(process: asyncio.subprocess.Process) -> str:
    if process.stderr is None:
        return ""
    try:
        data = await asyncio.wait_for(process.stderr.read(), 1.0)
    except TimeoutError:
        return ""
    return " / ".join(data.decode(errors="replace").strip().splitlines()[-3:])
