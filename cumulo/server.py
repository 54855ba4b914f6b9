"""Running the HTTP face and the process life cycle, for both run modes.

``run_embedded`` is ``cumulo up``: every service in one asyncio process, SQLite
and the in-memory bus. ``run_service`` is ``cumulo serve``: one service against
a shared database and RabbitMQ. Both stop cleanly on SIGINT/SIGTERM: the server
stops accepting, in-flight requests finish, then the database is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
import uvloop

import cumulo.loop
from cumulo.api.app import API_PREFIXES, build_app
from cumulo.bootstrap import bootstrap
from cumulo.config import Settings
from cumulo.db import migrate
from cumulo.exception import CumuloError
from cumulo.manager import MANAGERS, start_managers, stop_managers
from cumulo.rpc import make_bus
from cumulo.runtime import Runtime

LOG = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 75
"""How long an idle client connection stays open. uvicorn's 5 s default equals the poll
interval of ``openstack server create --wait``: the client would now and then send its next
GET on a connection the server was closing at that instant, and fail with "connection reset"."""
GRACEFUL_SHUTDOWN_SECONDS = 30
SHUTDOWN_SETTLE_SECONDS = 0.25
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StateDirBusy(CumuloError):
    message = "Another cumulo is already running on state directory %(path)s."


LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def run(main: Callable[[], Coroutine[Any, Any, None]], loop_factory: LoopFactory) -> None:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())


def service_loop(libvirt: bool) -> LoopFactory:
    """A ``cumulo serve`` process's loop: uvloop, or asyncio's own when its libvirt driver
    starts QEMU, since under uvloop libvirt's handshake with the QEMU it forks fails
    ("Unable to notify child process: Bad file descriptor")."""
    return asyncio.new_event_loop if libvirt else uvloop.new_event_loop


embedded_loop: LoopFactory = cumulo.loop.new_event_loop
"""``cumulo up``'s loop, where every service shares one loop: older requests first."""


async def serve_http(
    runtime: Runtime,
    prefixes: Iterable[str] = API_PREFIXES,
    on_ready: Callable[[], None] | None = None,
) -> None:
    settings = runtime.settings
    config = uvicorn.Config(
        build_app(runtime, prefixes),
        host=settings.api.bind,
        port=settings.api.port,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = _Server(config, on_ready)
    await server.serve()
    if not server.started:
        raise CumuloError(f"could not listen on {settings.api.bind}:{settings.api.port}")


def freeze_startup_heap() -> None:
    """Keep what start-up made (modules, the apps, schemas, mappers: over 200 000 objects
    in ``cumulo up``) out of garbage collection from now on.

    They live as long as the process, yet every full collection went through them
    again: 90 ms at once, in the middle of whatever was running (a boot of 50 at once
    took 0.1 s longer for it). After ``gc.freeze`` a full collection takes a few ms.
    """
    gc.collect()
    gc.freeze()


class _Server(uvicorn.Server):
    """uvicorn's server, telling us once it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Stop on SIGINT/SIGTERM like uvicorn, but return from ``serve()`` afterwards
        (uvicorn re-raises the signal) so the caller can close the database cleanly."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            freeze_startup_heap()
        if self.started and self.on_ready is not None:
            self.on_ready()

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        """Stop accepting, then let requests already sent on open connections be read.

        uvicorn closes every connection that looks idle; on a busy loop a request a
        client has sent may not have been read yet, and its connection would be cut.
        """
        for server in self.servers:
            server.close()
        await asyncio.sleep(SHUTDOWN_SETTLE_SECONDS)
        await super().shutdown(sockets)


async def until_stopped() -> None:
    """Wait for SIGINT or SIGTERM (a process that serves no HTTP: conductor, scheduler, hosts)."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopped.set)
    try:
        await stopped.wait()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def lock_state_dir(state_dir: Path) -> int:
    """Hold an exclusive lock on the state directory for this process's lifetime."""
    fd = os.open(state_dir / "cumulo.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateDirBusy(path=str(state_dir)) from None
    return fd


def usage_text(settings: Settings) -> str:
    clouds = (settings.state_dir / "clouds.yaml").resolve()
    return (
        f"cumulo is up at {settings.public_url}\n"
        f"clouds.yaml: {clouds}\n\n"
        f"{_path_hint()}"
        f"  export OS_CLIENT_CONFIG_FILE={clouds}\n"
        "  openstack --os-cloud cumulo token issue        # as admin\n"
        "  openstack --os-cloud cumulo-demo flavor list   # as the demo user\n"
    )


def _path_hint() -> str:
    """How to reach the ``openstack`` CLI installed beside cumulo, if it is not on PATH."""
    bin_dir = Path(sys.executable).parent
    on_path = bin_dir.resolve() in {
        Path(p).resolve() for p in os.environ.get("PATH", "").split(":") if p
    }
    if not (bin_dir / "openstack").exists() or on_path:
        return ""
    return f"  export PATH={bin_dir}:$PATH\n"


async def run_embedded(settings: Settings, on_ready: Callable[[], None] | None = None) -> None:
    """``cumulo up``: migrate, bootstrap, serve every API until told to stop."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    lock_fd = lock_state_dir(settings.state_dir)
    try:
        await migrate.upgrade(settings.database_url)
        runtime = Runtime.from_settings(settings)
        runtime.bus = make_bus(settings.bus)
        try:
            await bootstrap(runtime.db, settings, settings.state_dir / "clouds.yaml")
            managers = await start_managers(runtime, MANAGERS)
            try:
                await serve_http(runtime, on_ready=on_ready)
            finally:
                await stop_managers(managers)
        finally:
            await runtime.close()
        LOG.info("cumulo stopped")
    finally:
        os.close(lock_fd)


async def run_service(
    settings: Settings, prefixes: Iterable[str], services: Iterable[str] = ()
) -> None:
    """``cumulo serve``: the APIs in ``prefixes`` and the managers of ``services`` in one process.

    The database must already be migrated (``cumulo db upgrade``).
    """
    if not await migrate.is_current(settings.database_url):
        raise CumuloError(
            "The database is not at the current schema revision; run `cumulo db upgrade` first."
        )
    runtime = Runtime.from_settings(settings)
    runtime.bus = make_bus(settings.bus)
    try:
        managers = await start_managers(runtime, services)
        try:
            if prefixes:
                await serve_http(
                    runtime, prefixes, on_ready=lambda: LOG.info("serving %s", ", ".join(prefixes))
                )
            else:
                LOG.info("running %s", ", ".join(m.topic for m in managers))
                freeze_startup_heap()
                await until_stopped()
        finally:
            await stop_managers(managers)
    finally:
        await runtime.close()
