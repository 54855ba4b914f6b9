"""The ``cumulo`` command."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cumulo.cmd import daemon
from cumulo.cmd.demo import run_demo
from cumulo.cmd.image import image_app
from cumulo.config import Settings, load_settings, reference_markdown
from cumulo.exception import CumuloError
from cumulo.log import setup_logging

app = typer.Typer(
    help="cumulo: a compute cloud that speaks the OpenStack APIs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(image_app, name="image")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (see docs/config-reference.md).",
        exists=True,
        dir_okay=False,
    ),
]
StateDirOption = Annotated[
    Path | None, typer.Option("--state-dir", help="State directory (default .cumulo).")
]


def _settings(
    config: Path | None,
    state_dir: Path | None = None,
    compute: dict[str, object] | None = None,
    **api: object,
) -> Settings:
    overrides: dict[str, object] = {}
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    if compute:
        overrides["compute"] = compute
    api_values = {k: v for k, v in api.items() if v is not None}
    if api_values:
        overrides["api"] = api_values
    return load_settings(config, **overrides)


def _fail(exc: CumuloError) -> None:
    typer.echo(f"cumulo: {exc.format_message()}", err=True)
    raise typer.Exit(1)


@app.command()
def up(
    state_dir: StateDirOption = None,
    bind: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port of the one HTTP server.")] = None,
    config: ConfigOption = None,
    background: Annotated[
        bool, typer.Option("--background", help="Detach; return once the cloud answers.")
    ] = False,
    driver: Annotated[
        str | None, typer.Option(help="Hypervisor driver of the compute hosts (fake).")
    ] = None,
    compute_hosts: Annotated[
        int | None,
        typer.Option(min=1, help="Run N compute hosts (compute-1 … compute-N) in the process."),
    ] = None,
) -> None:
    """Start the embedded cloud: every service in one process, SQLite, in-memory bus."""
    compute: dict[str, object] = {}
    if driver is not None:
        compute["driver"] = driver
    if compute_hosts is not None:
        compute["hosts"] = [f"compute-{i}" for i in range(1, compute_hosts + 1)]
    settings = _settings(config, state_dir, compute, bind=bind, port=port)
    try:
        if background:
            daemon.start_background(settings, config)
        else:
            daemon.run_foreground(settings)
    except CumuloError as exc:
        _fail(exc)


@app.command()
def demo(
    state_dir: StateDirOption = None,
    bind: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port of the one HTTP server.")] = None,
    config: ConfigOption = None,
) -> None:
    """Boot a real guest for the demo user (what `make up` runs): build the guest image,
    start the cloud with the libvirt driver, upload the image, make a network and a key
    pair, boot a server and show its console; each step reuses what exists."""
    settings = _settings(config, state_dir, {"driver": "libvirt"}, bind=bind, port=port)
    try:
        run_demo(settings, lambda: daemon.start_background(settings, config, quiet=True))
    except CumuloError as exc:
        _fail(exc)


@app.command()
def down(state_dir: StateDirOption = None, config: ConfigOption = None) -> None:
    """Stop a cloud started with ``cumulo up --background``."""
    daemon.stop_background(_settings(config, state_dir))


@app.command()
def status(state_dir: StateDirOption = None, config: ConfigOption = None) -> None:
    """Say whether the embedded cloud of a state directory is running."""
    running = daemon.status(_settings(config, state_dir))
    raise typer.Exit(0 if running else 3)


class ServiceName(StrEnum):
    api = "api"
    identity = "identity"
    compute = "compute"
    image = "image"
    network = "network"
    volume = "volume"
    conductor = "conductor"
    scheduler = "scheduler"
    compute_host = "compute-host"


SERVICE_PREFIXES: dict[ServiceName, tuple[str, ...]] = {
    ServiceName.api: ("identity", "compute", "image", "networking", "volume"),
    ServiceName.identity: ("identity",),
    ServiceName.compute: ("compute",),
    ServiceName.image: ("image",),
    ServiceName.network: ("networking",),
    ServiceName.volume: ("volume",),
}
"""The HTTP APIs each service serves; conductor, scheduler and compute hosts serve none."""

SERVICE_MANAGERS: dict[ServiceName, tuple[str, ...]] = {
    ServiceName.image: ("image",),
    ServiceName.network: ("network",),
    ServiceName.volume: ("volume",),
    ServiceName.conductor: ("conductor",),
    ServiceName.scheduler: ("scheduler",),
    ServiceName.compute_host: ("compute",),
}


@app.command()
def serve(
    service: Annotated[ServiceName, typer.Argument(help="Which service this process runs.")],
    config: ConfigOption = None,
    port: Annotated[int | None, typer.Option(help="Override [api] port.")] = None,
    host: Annotated[
        list[str] | None,
        typer.Option(help="compute-host: the host name(s) it runs (default [compute] hosts)."),
    ] = None,
) -> None:
    """Run one service in its own process (distributed mode: PostgreSQL/MariaDB, RabbitMQ).

    ``api`` serves every HTTP API on one port; ``identity``, ``compute``, ``image``,
    ``network`` and ``volume`` serve their API, with their manager on the bus for the
    last three; ``conductor``, ``scheduler`` and ``compute-host`` run only their manager.
    """
    from cumulo.server import run, run_service, service_loop

    settings = _settings(config, compute={"hosts": host} if host else None, port=port)
    setup_logging(settings.log.level, settings.log.file)
    try:
        prefixes = SERVICE_PREFIXES.get(service, ())
        managers = SERVICE_MANAGERS.get(service, ())
        libvirt = service == "compute-host" and settings.compute.driver == "libvirt"
        run(lambda: run_service(settings, prefixes, managers), service_loop(libvirt))
    except CumuloError as exc:
        _fail(exc)


@app.command()
def audit(
    state_dir: StateDirOption = None,
    config: ConfigOption = None,
    repair: Annotated[bool, typer.Option("--repair", help="Fix what is found.")] = False,
) -> None:
    """List leaked ports, attachments, claims and usage, and instances stuck in a task.

    Exits 1 when it finds anything (even when ``--repair`` fixed it), 0 when clean.
    """
    from cumulo import audit as auditing
    from cumulo.runtime import Runtime
    from cumulo.server import run, service_loop

    settings = _settings(config, state_dir)
    found: list[auditing.Finding] = []

    async def main() -> None:
        runtime = Runtime.from_settings(settings)
        try:
            found.extend(await auditing.run(runtime, repair))
        finally:
            await runtime.close()

    run(main, service_loop(libvirt=False))
    for finding in found:
        typer.echo(finding.line())
    if found:
        verb = "repaired" if repair else "found"
        typer.echo(f"{len(found)} finding(s) {verb}.", err=True)
    else:
        typer.echo("clean: nothing leaked, nothing stuck.")
    raise typer.Exit(1 if found else 0)


@app.command("bootstrap")
def bootstrap_cmd(
    config: ConfigOption = None,
    clouds_yaml: Annotated[
        Path | None,
        typer.Option(help="Where to write clouds.yaml (default STATE_DIR/clouds.yaml)."),
    ] = None,
) -> None:
    """Create the default domain, projects, users, roles, catalog and flavors (idempotent)."""
    from cumulo.bootstrap import bootstrap
    from cumulo.db import Database

    settings = _settings(config)
    target = clouds_yaml or settings.state_dir / "clouds.yaml"

    async def main() -> None:
        db = Database(settings.database_url)
        try:
            await bootstrap(db, settings, target)
        finally:
            await db.dispose()

    asyncio.run(main())
    typer.echo(f"clouds.yaml: {target.resolve()}")


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Migrate the database to the latest schema (or to REVISION)."""
    from cumulo.db import migrate

    settings = _settings(config)
    asyncio.run(migrate.upgrade(settings.database_url, revision))
    typer.echo(
        f"database at revision {asyncio.run(migrate.current_revision(settings.database_url))}"
    )


@db_app.command("version")
def db_version(config: ConfigOption = None) -> None:
    """Print the database's schema revision and the latest one."""
    from cumulo.db import migrate

    settings = _settings(config)
    current = asyncio.run(migrate.current_revision(settings.database_url))
    typer.echo(f"current: {current}\nhead: {migrate.head_revision()}")


@config_app.command("reference")
def config_reference() -> None:
    """Print every configuration option as Markdown (docs/config-reference.md)."""
    typer.echo(reference_markdown(), nl=False)


if __name__ == "__main__":
    app()
