"""One TOML config file, with environment overrides, for every service.

Precedence, highest first: keyword arguments (the CLI's ``--port`` …),
environment variables ``CUMULO_<SECTION>__<OPTION>`` (for example
``CUMULO_DATABASE__URL``), the TOML file, then the defaults below.
``cumulo config reference`` renders every option into one document
(``docs/config-reference.md``) straight from these models.
"""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiSettings(_Section):
    bind: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8700, description="Port of the one HTTP server that serves every API.")
    public_url: str | None = Field(
        None,
        description="Base URL clients use to reach the APIs (written into the service catalog). "
        "Defaults to http://<bind>:<port>, with 127.0.0.1 when bound to all addresses.",
    )
    max_limit: int = Field(1000, description="Largest page a list request may ask for.")
    max_body_bytes: int = Field(
        1_048_576, description="Largest JSON request body accepted (413 above it)."
    )


class DatabaseSettings(_Section):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL: sqlite:///PATH, postgresql+asyncpg://…, "
        "mysql+aiomysql://…. Defaults to cumulo.db in the state directory.",
    )
    pool_size: int = Field(10, description="Connections kept open per process (not for SQLite).")
    echo: bool = Field(False, description="Log every SQL statement.")


class BusSettings(_Section):
    transport: Literal["memory", "rabbit"] = Field(
        "memory", description="memory (embedded mode, one process) or rabbit (RabbitMQ)."
    )
    url: str = Field("amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ URL.")
    exchange: str = Field("cumulo", description="RabbitMQ exchange all topics are bound to.")
    call_timeout: float = Field(60.0, description="Seconds a call waits for its reply.")


class IdentitySettings(_Section):
    token_expiration: int = Field(3600, description="Seconds a token is valid.")
    token_cache_seconds: float = Field(
        5.0,
        description="Seconds an API process trusts a validated token before asking the "
        "database again (a revoke in another process takes effect within this).",
    )
    password_hash_time_cost: int = Field(2, description="argon2id iterations.")
    password_hash_memory_kib: int = Field(19456, description="argon2id memory, in KiB.")
    region: str = Field("RegionOne", description="Region of the bootstrapped endpoints.")


class ComputeSettings(_Section):
    default_availability_zone: str = Field(
        "nova", description="Availability zone of hosts not in any aggregate."
    )
    quota_instances: int = Field(10, description="Default instances per project (-1: no limit).")
    quota_cores: int = Field(20, description="Default vCPUs per project.")
    quota_ram: int = Field(51200, description="Default RAM (MiB) per project.")
    quota_metadata_items: int = Field(128, description="Default metadata items per server.")
    quota_key_pairs: int = Field(100, description="Default key pairs per user.")
    quota_server_groups: int = Field(10, description="Default server groups per project.")
    quota_server_group_members: int = Field(10, description="Default servers per server group.")
    driver: Literal["fake", "libvirt"] = Field(
        "fake", description="Hypervisor driver of the compute hosts this process runs."
    )
    instances_path: Path | None = Field(
        None,
        description="Where guests' disks, config drives and consoles live "
        "(default STATE_DIR/instances).",
    )
    sync_power_state_interval: float = Field(
        10.0,
        description="Seconds between syncs of the hypervisor's power states into the "
        "database (a guest that powered itself off shows SHUTOFF); 0 or less: never.",
    )
    running_deleted_instance_action: Literal["reap", "log", "noop"] = Field(
        "reap",
        description="What a compute host does with a guest whose server is deleted: "
        "destroy it with its disks (reap), report it (log), or nothing (noop).",
    )
    running_deleted_instance_poll_interval: float = Field(
        1800.0, description="Seconds between looks for guests of deleted servers (0: never)."
    )
    lost_tap_check_interval: float = Field(
        5.0,
        description="Seconds between checks that each running guest still holds its NICs' "
        "taps; a guest whose tap was deleted under it is re-plugged and rebooted hard "
        "(0 or less: never). Only with a driver whose guests hold their taps (libvirt).",
    )
    force_config_drive: bool | None = Field(
        None,
        description="Give every server a config drive; unset: yes in embedded mode "
        "(in-memory bus), no otherwise.",
    )
    hosts: list[str] = Field(
        default_factory=list,
        description="Compute hosts this process runs (embedded mode may run several); "
        "empty: one, named after this machine.",
    )
    max_attempts: int = Field(
        3, ge=1, description="Hosts a build may try (the first and its alternates)."
    )
    network_allocate_retries: int = Field(
        3, ge=0, description="Retries of a failed network allocation during a build."
    )
    network_allocate_backoff_cap: float = Field(
        30.0, description="Longest wait, in seconds, between network allocation retries."
    )
    service_down_time: float = Field(
        60.0, description="Seconds without a heartbeat after which a compute host is down."
    )
    report_interval: float = Field(
        10.0, description="Seconds between a compute host's heartbeats and resource reports."
    )
    stuck_task_timeout: float = Field(
        600.0, description="Seconds after which `cumulo audit` reports an instance stuck in a task."
    )
    max_local_block_devices: int = Field(
        3, description="Local disks (image, ephemeral, swap) a server may have (-1: no limit)."
    )
    enable_instance_password: bool = Field(
        True, description="Answer a server create with its adminPass."
    )
    cpu_allocation_ratio: float = Field(4.0, description="vCPU overcommit of every host.")
    ram_allocation_ratio: float = Field(1.0, description="RAM overcommit of every host.")
    disk_allocation_ratio: float = Field(1.0, description="Disk overcommit of every host.")
    reserved_host_cpus: int = Field(0, description="vCPUs of a host kept from guests.")
    reserved_host_memory_mb: int = Field(0, description="MiB of a host's RAM kept from guests.")
    reserved_host_disk_mb: int = Field(0, description="MiB of a host's disk kept from guests.")


class SchedulerSettings(_Section):
    host_subset_size: int = Field(
        1, ge=1, description="Pick randomly among this many best-weighed hosts."
    )
    ram_weight_multiplier: float = Field(1.0, description="Weight of free RAM (negative: stack).")
    cpu_weight_multiplier: float = Field(1.0, description="Weight of free vCPUs.")
    disk_weight_multiplier: float = Field(1.0, description="Weight of free disk.")
    build_failure_weight_multiplier: float = Field(
        1_000_000.0, description="Penalty of each recent build failure on a host."
    )


class FakeDriverSettings(_Section):
    """The fake hypervisor: resources it reports, and failures it injects for tests."""

    vcpus: int = Field(1000, description="vCPUs each fake host reports.")
    memory_mb: int = Field(800_000, description="MiB of RAM each fake host reports.")
    local_gb: int = Field(600_000, description="GiB of disk each fake host reports.")
    spawn_delay: float = Field(0.0, description="Seconds each spawn takes.")
    fail_spawn_hosts: list[str] = Field(
        default_factory=list, description="Hosts whose spawns fail."
    )
    fail_spawn: Literal["retryable", "fatal"] = Field(
        "retryable",
        description="How spawns on fail_spawn_hosts fail: retryable (reschedule) or fatal (abort).",
    )


class LibvirtSettings(_Section):
    """The libvirt/QEMU driver (Nova's ``[libvirt]``)."""

    connection_uri: str | None = Field(
        None,
        description="libvirt URI; unset: qemu:///system when a libvirtd answers there, "
        "else libvirt's embedded driver (qemu:///embed) under STATE_DIR/libvirt, no daemon.",
    )
    virt_type: Literal["auto", "kvm", "qemu"] = Field(
        "auto",
        description="kvm or qemu (TCG); auto boots a probe guest with KVM once and "
        "falls back to qemu when it does not run (as under nested virtualisation).",
    )
    tb_cache_mb: int = Field(
        32, description="TCG translation cache per guest, in MiB (bounds a guest's RSS)."
    )
    call_timeout: float = Field(60.0, description="Seconds any one libvirt call may take.")
    images_dir: Path | None = Field(
        None, description="Cache of base images, one per image (default INSTANCES_PATH/_base)."
    )


class ImageSettings(_Section):
    store_dir: Path | None = Field(
        None, description="Where image data is kept. Defaults to images/ in the state directory."
    )
    image_size_cap: int = Field(
        1 << 40, description="Largest image upload, in bytes (Glance default: 1 TiB)."
    )
    quota_image_size_total: int = Field(
        1_048_576,
        description="Default MiB of image data a project may store (-1: no limit).",
    )


class NetworkSettings(_Section):
    quota_network: int = Field(100, description="Default networks per project (-1: no limit).")
    quota_subnet: int = Field(100, description="Default subnets per project.")
    quota_port: int = Field(500, description="Default ports per project.")
    quota_security_group: int = Field(10, description="Default security groups per project.")
    quota_security_group_rule: int = Field(
        100, description="Default security group rules per project."
    )
    quota_router: int = Field(10, description="Default routers per project.")
    quota_floatingip: int = Field(50, description="Default floating IPs per project.")
    dns_domain: str = Field("openstacklocal", description="Domain of ports' dns_assignment.")
    data_plane: bool | None = Field(
        None,
        description=(
            "Give guests' NICs a data path on their compute host (bridge, tap, DHCP, "
            "metadata); unset: on with the libvirt driver, off with the fake one."
        ),
    )
    physical_interface_mappings: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "The host interface each physical network is bridged to (Neutron's "
            'physical_interface_mappings), e.g. {public = "eth1"}: a flat network of '
            "that physical network reaches the world, and the same network on every host, "
            "through it."
        ),
    )
    local_ip: str | None = Field(
        None,
        description=(
            "This host's address for VXLAN tunnels: the same tenant network on every host "
            "with one is one segment. Unset: a tenant network stays within each host."
        ),
    )


class VolumeSettings(_Section):
    store_dir: Path | None = Field(
        None, description="Where volume files are kept (default: volumes/ in the state dir)."
    )
    default_format: Literal["qcow2", "raw"] = Field(
        "qcow2", description="File format of new volumes (made with qemu-img)."
    )
    quota_volumes: int = Field(10, description="Default volumes per project (-1: no limit).")
    quota_snapshots: int = Field(10, description="Default volume snapshots per project.")
    quota_gigabytes: int = Field(1000, description="Default GiB of volumes per project.")
    quota_backups: int = Field(10, description="Default volume backups per project.")
    quota_backup_gigabytes: int = Field(1000, description="Default GiB of backups per project.")


class LogSettings(_Section):
    level: str = Field("INFO", description="Root log level.")
    file: str | None = Field(None, description="Log file; standard error when unset.")


class Settings(BaseSettings):
    """Every option of every service."""

    model_config = SettingsConfigDict(
        env_prefix="CUMULO_", env_nested_delimiter="__", extra="forbid"
    )

    state_dir: Path = Field(
        Path(".cumulo"),
        description="Where embedded mode keeps its database, clouds.yaml, logs and images.",
    )
    api: ApiSettings = Field(default_factory=ApiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    compute: ComputeSettings = Field(default_factory=ComputeSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    fake_driver: FakeDriverSettings = Field(default_factory=FakeDriverSettings)
    libvirt: LibvirtSettings = Field(default_factory=LibvirtSettings)
    image: ImageSettings = Field(default_factory=ImageSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    volume: VolumeSettings = Field(default_factory=VolumeSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.state_dir / 'cumulo.db').resolve()}"

    @property
    def compute_hosts(self) -> list[str]:
        return self.compute.hosts or [socket.gethostname()]

    @property
    def instances_path(self) -> Path:
        return self.compute.instances_path or self.state_dir / "instances"

    @property
    def config_drive_forced(self) -> bool:
        if self.compute.force_config_drive is not None:
            return self.compute.force_config_drive
        return self.bus.transport == "memory"

    @property
    def image_dir(self) -> Path:
        return self.image.store_dir or self.state_dir / "images"

    @property
    def volume_dir(self) -> Path:
        return self.volume.store_dir or self.state_dir / "volumes"

    @property
    def public_url(self) -> str:
        if self.api.public_url:
            return self.api.public_url.rstrip("/")
        host = "127.0.0.1" if self.api.bind in ("0.0.0.0", "::", "") else self.api.bind
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.api.port}"


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (if any), apply ``CUMULO_*`` variables, then ``overrides``.

    The environment wins over the file: the file's values become defaults that
    pydantic-settings' environment source overrides.
    """
    file_values: dict[str, Any] = {}
    if config_file is not None:
        with open(config_file, "rb") as fh:
            file_values = tomllib.load(fh)
    env_only = Settings()  # environment over defaults
    env_values = env_only.model_dump(exclude_unset=True)
    values = _deep_merge(_deep_merge(file_values, env_values), overrides)
    return Settings(**values)


def reference_markdown() -> str:
    """Every option, its type, default and meaning, as one Markdown document."""
    lines = [
        "# cumulo configuration reference",
        "",
        "Generated by `cumulo config reference` from `cumulo/config.py`; do not edit.",
        "Options go in one TOML file (`--config FILE`); each can be overridden by",
        "the environment variable shown.",
        "",
    ]
    top = [(n, f) for n, f in Settings.model_fields.items() if not _is_section(f.annotation)]
    lines += ["## (top level)", "", "| option | env | default | meaning |", "|---|---|---|---|"]
    for name, field in top:
        lines.append(_row(name, f"CUMULO_{name.upper()}", field))
    for name, field in Settings.model_fields.items():
        if not _is_section(field.annotation):
            continue
        section: type[BaseModel] = field.annotation  # type: ignore[assignment]
        lines += [
            "",
            f"## [{name}]",
            "",
            "| option | env | default | meaning |",
            "|---|---|---|---|",
        ]
        for opt, opt_field in section.model_fields.items():
            env = f"CUMULO_{name.upper()}__{opt.upper()}"
            lines.append(_row(opt, env, opt_field))
    return "\n".join(lines) + "\n"


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, _Section)


def _row(name: str, env: str, field: Any) -> str:
    default = field.get_default(call_default_factory=True)
    shown = "(derived)" if default is None else f"`{default}`"
    return f"| `{name}` | `{env}` | {shown} | {field.description or ''} |"
