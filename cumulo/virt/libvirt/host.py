"""The connection to libvirt (Nova's ``nova/virt/libvirt/host.py``).

Which libvirt: ``[libvirt] connection_uri``, else ``qemu:///system`` when a
libvirtd answers there, else libvirt's embedded QEMU driver
(``qemu:///embed?root=STATE_DIR/libvirt``), which runs inside this process
with no daemon and no systemd. libvirt allows one embedded root per process,
so every compute host a process runs shares one connection; a guest's
``<metadata>`` names its host, and each host lists only its own guests.

Every libvirt call runs in a thread of this connection's pool, bounded by
``[libvirt] call_timeout``, so a stuck hypervisor never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import libvirt

from cumulo.config import Settings
from cumulo.virt.errors import VirtError
from cumulo.virt.libvirt.config import METADATA_NS

LOG = logging.getLogger(__name__)
T = TypeVar("T")

SYSTEM_URI = "qemu:///system"
SYSTEM_SOCKET = Path("/var/run/libvirt/libvirt-sock")

EMBED_QEMU_CONF = """\
# Written by cumulo: QEMU as root without libvirt's DAC relabelling and without
# virtlogd, so the embedded driver needs no daemon at all.
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
stdio_handler = "file"
"""

_event_loop_lock = threading.Lock()
_event_loop_started = False


def _start_event_loop() -> None:
    """libvirt needs an event loop registered before the first ``open`` (the embedded
    driver runs its QEMU monitors on it); one thread per process runs it."""
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


def embed_root(settings: Settings) -> Path:
    return (settings.state_dir / "libvirt").resolve()


def connection_uri(settings: Settings) -> str:
    if settings.libvirt.connection_uri:
        return settings.libvirt.connection_uri
    if _libvirtd_answers():
        return SYSTEM_URI
    return f"qemu:///embed?root={_short_path(embed_root(settings))}"


def _libvirtd_answers() -> bool:
    """Whether a libvirtd listens on the system socket (a stale socket file does not count)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(SYSTEM_SOCKET))
        except OSError:
            return False
    return True


SHORT_ROOT_LEN = 40


def _short_path(root: Path) -> Path:
    """``root``, or a short symbolic link to it in the temporary directory: libvirt puts
    each guest's monitor socket under the root, and a UNIX socket path holds at most
    107 bytes, which a deep state directory exceeds."""
    root.mkdir(parents=True, exist_ok=True)
    if len(str(root)) <= SHORT_ROOT_LEN:
        return root
    digest = hashlib.sha1(str(root).encode(), usedforsecurity=False).hexdigest()[:12]
    link = Path(tempfile.gettempdir()) / f"cumulo-libvirt-{digest}"
    if not (link.is_symlink() and link.resolve() == root):
        staging = link.with_name(f"{link.name}.{os.getpid()}")
        staging.unlink(missing_ok=True)
        staging.symlink_to(root)
        staging.replace(link)
    return link


CAPABILITIES_SEED = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "cumulo"
    / "libvirt-qemu-capabilities"
)
"""Where the QEMU capabilities a root probed are kept for the next new root: probing
takes 3 to 8 s, a seeded root opens in 0.1 s (libvirt re-probes a stale one itself)."""


def _embedded_root(uri: str) -> Path | None:
    if not uri.startswith("qemu:///embed"):
        return None
    return Path(uri.partition("root=")[2].partition("&")[0])


def _capabilities(root: Path) -> Path:
    return root / "cache" / "qemu" / "capabilities"


def prepare_embed_root(uri: str) -> None:
    """Give an embedded root the qemu.conf it needs (once; an operator's edits stay) and
    the QEMU capabilities another root probed."""
    root = _embedded_root(uri)
    if root is None:
        return
    conf = root / "etc" / "qemu.conf"
    if not conf.exists():
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(EMBED_QEMU_CONF)
    cache = _capabilities(root)
    if not cache.exists() and CAPABILITIES_SEED.is_dir():
        shutil.copytree(CAPABILITIES_SEED, cache)


def keep_capabilities(uri: str) -> None:
    root = _embedded_root(uri)
    if root is None or CAPABILITIES_SEED.is_dir() or not _capabilities(root).is_dir():
        return
    staging = Path(tempfile.mkdtemp(prefix=".seed-", dir=_mkdirs(CAPABILITIES_SEED.parent)))
    shutil.copytree(_capabilities(root), staging, dirs_exist_ok=True)
    try:
        staging.rename(CAPABILITIES_SEED)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def _mkdirs(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


class Host:
    """One open libvirt connection, shared by every compute host of the process."""

    _open: ClassVar[dict[str, Host]] = {}
    _open_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, uri: str, call_timeout: float) -> None:
        self.uri = uri
        self.call_timeout = call_timeout
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="libvirt")
        self._conn: libvirt.virConnect | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> Host:
        uri = connection_uri(settings)
        with cls._open_lock:
            host = cls._open.get(uri)
            if host is None:
                embedded = [u for u in cls._open if u.startswith("qemu:///embed")]
                if uri.startswith("qemu:///embed") and embedded:
                    raise VirtError(
                        reason=f"libvirt's embedded driver is already open at {embedded[0]} "
                        f"in this process, and a process can hold only one root (asked: {uri})"
                    )
                host = cls._open[uri] = cls(uri, settings.libvirt.call_timeout)
        return host

    @property
    def conn(self) -> libvirt.virConnect:
        if self._conn is None:
            _start_event_loop()
            prepare_embed_root(self.uri)
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                raise VirtError(reason=f"cannot connect to libvirt at {self.uri}: {exc}") from exc
        return self._conn

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in this connection's threads; ``VirtError`` past the timeout."""
        loop = asyncio.get_running_loop()
        limit = self.call_timeout
        future = loop.run_in_executor(self._executor, functools.partial(fn, *args))
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError as exc:
            name = getattr(fn, "__name__", repr(fn))
            raise VirtError(reason=f"libvirt call {name} took longer than {limit:.0f}s") from exc

    async def connection(self) -> libvirt.virConnect:
        """The open connection, with the hypervisor's capabilities probed (the first
        call on a new embedded root is the slow one)."""
        if self._conn is None:
            conn = await self.call(lambda: self.conn)
            await self.call(conn.getVersion)
            await asyncio.to_thread(keep_capabilities, self.uri)
        return self.conn

    def lookup(self, uuid: str) -> libvirt.virDomain | None:
        """The domain of an instance, or None (to be called inside ``call``)."""
        try:
            return self.conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    @classmethod
    def close_all(cls) -> None:
        """Close every connection (guests keep running; a new connection finds them)."""
        with cls._open_lock:
            hosts, cls._open = list(cls._open.values()), {}
        for host in hosts:
            if host._conn is not None:
                try:
                    host._conn.close()
                except libvirt.libvirtError:
                    LOG.debug("closing %s failed", host.uri, exc_info=True)
            host._executor.shutdown(wait=False)


def stop_domain(domain: libvirt.virDomain) -> bool:
    """Pull the plug of a running domain (libvirt's ``destroy``); whether it was running.
    A guest that stops on its own meanwhile is not an error."""
    if not domain.isActive():
        return False
    try:
        domain.destroy()
    except libvirt.libvirtError:
        if domain.isActive():
            raise
    return True


def stop_guests(settings: Settings) -> int:
    """Power off the guests of this state directory's compute hosts (``cumulo down``, after
    the cloud stopped: an embedded root is free again then); how many were running."""
    uri = connection_uri(settings)
    root = _embedded_root(uri)
    if root is not None and not (root / "etc" / "qemu.conf").exists():
        return 0
    if uri == SYSTEM_URI and not _libvirtd_answers():
        return 0
    _start_event_loop()
    conn = libvirt.open(uri)
    path = str(settings.instances_path.resolve())
    stopped = 0
    try:
        for domain in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            if owner_of(domain).get("path") == path and stop_domain(domain):
                stopped += 1
    finally:
        conn.close()
    return stopped


def owner_of(domain: libvirt.virDomain) -> dict[str, str]:
    """The ``<cumulo:instance>`` metadata of a domain: its host, instances path, name."""
    try:
        raw = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
    except libvirt.libvirtError:
        return {}
    element = ET.fromstring(raw)
    return {child.tag.rpartition("}")[2]: child.text or "" for child in element}
