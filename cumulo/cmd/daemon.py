"""``cumulo up`` in the foreground or background, ``cumulo down`` and ``cumulo status``.

The background process is the same ``cumulo up`` in a new session with its
output in ``STATE_DIR/cumulo.log``; it writes ``STATE_DIR/cumulo.ready`` (its
pid) once it serves, which is what the parent waits for.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from cumulo.config import Settings
from cumulo.exception import CumuloError
from cumulo.log import setup_logging

START_TIMEOUT = 120.0
STOP_TIMEOUT = 40.0


def _pid_file(settings: Settings) -> Path:
    return settings.state_dir / "cumulo.pid"


def _ready_file(settings: Settings) -> Path:
    return settings.state_dir / "cumulo.ready"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pid(settings: Settings) -> int | None:
    try:
        pid = int(_pid_file(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def run_foreground(settings: Settings) -> None:
    from cumulo.server import embedded_loop, run, run_embedded, usage_text

    setup_logging(settings.log.level, settings.log.file)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    ready = _ready_file(settings)

    def on_ready() -> None:
        typer.echo(usage_text(settings))
        ready.write_text(str(os.getpid()))

    try:
        run(lambda: run_embedded(settings, on_ready=on_ready), embedded_loop)
    finally:
        if ready.exists() and ready.read_text().strip() == str(os.getpid()):
            ready.unlink()


def start_background(settings: Settings, config: Path | None, quiet: bool = False) -> None:
    """Start ``cumulo up`` detached and wait until it serves; ``quiet`` prints nothing."""
    from cumulo.server import usage_text

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if running_pid(settings) is not None:
        if not quiet:
            typer.echo("cumulo is already running.\n")
            typer.echo(usage_text(settings))
        return
    _ready_file(settings).unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "cumulo.cmd.main",
        "up",
        "--state-dir",
        str(settings.state_dir.resolve()),
        "--bind",
        settings.api.bind,
        "--port",
        str(settings.api.port),
    ]
    if config is not None:
        command += ["--config", str(config.resolve())]
    command += ["--driver", settings.compute.driver]
    if settings.compute.hosts:
        command += ["--compute-hosts", str(len(settings.compute.hosts))]
    log_path = settings.state_dir / "cumulo.log"
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    _pid_file(settings).write_text(str(child.pid))
    _wait_ready(settings, child, log_path)
    if not quiet:
        typer.echo(usage_text(settings))


def _wait_ready(settings: Settings, child: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    ready = _ready_file(settings)
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().strip() == str(child.pid):
            return
        if child.poll() is not None:
            _pid_file(settings).unlink(missing_ok=True)
            tail = "".join(log_path.read_text(errors="replace").splitlines(True)[-15:])
            raise CumuloError(f"cumulo exited with status {child.returncode}; log tail:\n{tail}")
        time.sleep(0.1)
    raise CumuloError(f"cumulo did not come up within {START_TIMEOUT:.0f} s; see {log_path}")


def stop_background(settings: Settings) -> None:
    pid = running_pid(settings)
    if pid is None:
        typer.echo("cumulo is not running.")
        _pid_file(settings).unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        typer.echo(f"cumulo (pid {pid}) did not stop in {STOP_TIMEOUT:.0f} s; killed.")
    else:
        typer.echo(f"cumulo (pid {pid}) stopped.")
    _pid_file(settings).unlink(missing_ok=True)
    _ready_file(settings).unlink(missing_ok=True)
    if settings.compute.driver == "libvirt" or (settings.state_dir / "libvirt").is_dir():
        from cumulo.virt.libvirt.host import stop_guests

        stopped = stop_guests(settings)
        if stopped:
            typer.echo(f"stopped {stopped} guest(s).")
    from cumulo.network.agent.data_plane import run_dir

    if run_dir(settings).is_dir():
        removed = asyncio.run(_tear_down_data_plane(settings))
        if removed:
            typer.echo(f"removed the data plane of {removed} network(s).")


async def _tear_down_data_plane(settings: Settings) -> int:
    from cumulo.network.agent.teardown import tear_down
    from cumulo.runtime import Runtime

    runtime = Runtime.from_settings(settings)
    try:
        return await tear_down(runtime)
    finally:
        await runtime.close()


def status(settings: Settings) -> bool:
    pid = running_pid(settings)
    if pid is None:
        typer.echo("cumulo is not running.")
        return False
    typer.echo(f"cumulo is running (pid {pid}) at {settings.public_url}")
    return True
