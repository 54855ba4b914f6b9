"""The flavor extra specs Nova knows, checked from microversion 2.86.

A key is matched by its exact name, then by the rules' patterns. A key no
rule matches passes, unless its namespace (the part before ``:``) belongs to
a rule: then it is refused as "not a valid extra spec", as Nova refuses it.
Trait names are taken as any ``[A-Z0-9_]+`` (Nova checks them against the
``os-traits`` list).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import NoReturn

from cumulo.compute.errors import ValidationError

_GROUP = {"group": r"([a-zA-Z0-9_-]{1,64})?"}
_FILTER = r"(:\w+)*"
_CPU_MAP = r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"
_TOPOLOGY = ("sockets", "cores", "threads")
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")

# os-resource-classes' standard classes, for ``resources{group}:<class>``.
RESOURCE_CLASSES = (
    "VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "NUMA_SOCKET",
    "NUMA_CORE", "NUMA_THREAD", "NUMA_MEMORY_MB", "IPV4_ADDRESS", "VGPU",
    "VGPU_DISPLAY_HEAD", "NET_BW_EGR_KILOBIT_PER_SEC", "NET_BW_IGR_KILOBIT_PER_SEC",
    "PCPU", "MEM_ENCRYPTION_CONTEXT", "FPGA", "PGPU",
    "NET_PACKET_RATE_KILOPACKET_PER_SEC", "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
)  # fmt: skip

_SOUND_MODELS = ("sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "virtio")
_FLAT_CAPABILITIES = (
    "id", "uuid", "service_id", "host", "vcpus", "memory_mb", "local_gb", "vcpus_used",
    "memory_mb_used", "local_gb_used", "hypervisor_type", "hypervisor_version",
    "hypervisor_hostname", "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
    "disk_available_least", "host_ip", "mapped", "cpu_allocation_ratio",
    "ram_allocation_ratio", "disk_allocation_ratio", "total_usable_ram_mb",
    "total_usable_disk_gb", "disk_mb_used", "free_disk_mb", "vcpus_total", "num_instances",
    "num_io_ops", "failed_builds", "aggregates", "cell_uuid", "updated",
)  # fmt: skip
_NESTED_CAPABILITIES = (
    "cpu_info", "metrics", "stats", "numa_topology", "supported_hv_specs",
    "pci_device_pools", "nodename", "pci_stats", "supported_instances", "limits", "instances",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One known extra spec: its name (``{param}`` marks a variable part) and its value."""

    name: str
    kind: type
    params: dict[str, str] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None

    @functools.cached_property
    def name_regex(self) -> str:
        regex = self.name
        for param, pattern in self.params.items():
            regex = regex.replace(f"{{{param}}}", f"(?P<{param}>{pattern})")
        return regex

    def check(self, value: str) -> None:
        if self.kind is int:
            self._check_int(value)
        elif self.kind is bool:
            if value.strip().lower() not in _TRUE + _FALSE:
                _fail(f"'{value}' is not a valid boolean-like value.")
        elif self.pattern is not None:
            if not re.fullmatch(self.pattern, value):
                _fail(f"'{value}' is not of the format '{self.pattern}'.")
        elif self.choices and value not in self.choices:
            _fail(f"'{value}' is not one of: {', '.join(self.choices)}.")

    def _check_int(self, value: str) -> None:
        try:
            number = int(value)
        except ValueError:
            _fail(f"'{value}' is not a valid integer value.")
        if self.maximum is not None and number > self.maximum:
            _fail(f"'{number}' is greater than the max value of '{self.maximum}'.")
        if self.minimum is not None and number < self.minimum:
            _fail(f"'{number}' is less than the min value of '{self.minimum}'.")


def _fail(reason: str) -> NoReturn:
    raise ValidationError(detail=f"Validation failed; {reason}")


def _int(name: str, minimum: int | None = None, maximum: int | None = None) -> Rule:
    return Rule(name, int, minimum=minimum, maximum=maximum)


def _bool(name: str) -> Rule:
    return Rule(name, bool)


def _enum(name: str, *choices: str) -> Rule:
    return Rule(name, str, choices=choices)


def _text(name: str, pattern: str | None = None, **params: str) -> Rule:
    return Rule(name, str, params=params, pattern=pattern)


def _hw_rules() -> list[Rule]:
    return [
        _bool("hw:cpu_realtime"),
        _text("hw:cpu_realtime_mask", r"(\^)?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"),
        _bool("hw:hide_hypervisor_id"),
        _enum("hw:cpu_policy", "dedicated", "shared", "mixed"),
        _enum("hw:cpu_thread_policy", "prefer", "isolate", "require"),
        _enum("hw:emulator_threads_policy", "isolate", "share"),
        _text("hw:cpu_dedicated_mask", _CPU_MAP),
        _text("hw:mem_page_size", r"(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)"),
        _bool("hw:locked_memory"),
        _int("hw:numa_nodes", minimum=1),
        _text("hw:numa_cpus.{num}", _CPU_MAP, num=r"\d+"),
        Rule("hw:numa_mem.{num}", int, params={"num": r"\d+"}, minimum=1),
        _enum("hw:pci_numa_affinity_policy", "required", "preferred", "legacy", "socket"),
        *(_int(f"hw:cpu_{m}{p}", minimum=1) for m in ("", "max_") for p in _TOPOLOGY),
        _bool("hw:boot_menu"),
        _bool("hw:vif_multiqueue_enabled"),
        _bool("hw:mem_encryption"),
        _enum("hw:mem_encryption_model", "amd-sev", "amd-sev-es", "amd-sev-snp", "intel-tdx"),
        _text("hw:pmem", "([a-zA-Z0-9_]+(,)?)+"),
        _bool("hw:pmu"),
        _int("hw:serial_port_count", minimum=0),
        _enum("hw:tpm_model", "tpm-tis", "tpm-crb"),
        _enum("hw:tpm_version", "1.2", "2.0"),
        _enum("hw:tpm_secret_security", "user", "host", "deployment"),
        _enum("hw:watchdog_action", "none", "pause", "poweroff", "reset", "disabled"),
        _enum("hw:viommu_model", "intel", "smmuv3", "virtio", "auto"),
        _bool("hw:virtio_packed_ring"),
        _enum("hw:sound_model", *_SOUND_MODELS),
        _enum("hw:usb_model", "none", "nec-xhci", "qemu-xhci"),
        _int("hw:redirected_usb_ports", minimum=0, maximum=15),
        _bool("hw:ephemeral_encryption"),
        _enum("hw:ephemeral_encryption_format", "plain", "luks", "luksv2"),
        _bool("hw_rng:allowed"),
        _int("hw_rng:rate_bytes", minimum=0),
        _int("hw_rng:rate_period", minimum=0),
        _int("hw_video:ram_max_mb", minimum=0),
    ]


def _quota_rules() -> list[Rule]:
    rules = [_int("quota:cpu_shares", minimum=0), _int("quota:cpu_period", minimum=0)]
    rules.append(_int("quota:cpu_quota"))
    for key in ("cpu", "memory", "disk_io", "vif"):
        rules += [
            _int(f"quota:{key}_limit", minimum=0),
            _int(f"quota:{key}_reservation"),
            _enum(f"quota:{key}_shares_level", "custom", "high", "normal", "low"),
            _int(f"quota:{key}_shares_share", minimum=0),
        ]
    for stat in ("read", "write", "total"):
        rules += [_int(f"quota:disk_{stat}_{m}_sec", minimum=0) for m in ("bytes", "iops")]
    for stat in ("inbound", "outbound"):
        rules += [_int(f"quota:vif_{stat}_{m}", minimum=0) for m in ("average", "peak", "burst")]
    return rules


def _placement_rules() -> list[Rule]:
    rules = [Rule(f"resources{{group}}:{rc}", int, params=_GROUP) for rc in RESOURCE_CLASSES]
    custom = {**_GROUP, "resource": "[A-Z0-9_]+"}
    rules.append(Rule("resources{group}:CUSTOM_{resource}", int, params=custom))
    traits = {**_GROUP, "trait": "[A-Z0-9_]+"}
    choices = ("required", "forbidden")
    rules.append(Rule("trait{group}:{trait}", str, params=traits, choices=choices))
    return rules


def _other_rules() -> list[Rule]:
    return [
        _text("accel:device_profile"),
        _text("aggregate_instance_extra_specs:{key}", key=".+"),
        *(_text(f"capabilities:{c}") for c in _FLAT_CAPABILITIES),
        *(_text(f"capabilities:{c}{{filter}}", filter=_FILTER) for c in _NESTED_CAPABILITIES),
        _bool("hide_hypervisor_id"),
        _enum("group_policy", "isolate", "none"),
        _enum("os:secure_boot", "disabled", "required"),
        _text("pci_passthrough:alias", r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*"),
        _text("vmware:hw_version"),
        _text("vmware:storage_policy"),
    ]


RULES: dict[str, Rule] = {
    rule.name: rule for rule in _hw_rules() + _quota_rules() + _placement_rules() + _other_rules()
}
NAMESPACES = frozenset(
    rule.name_regex.split(":", 1)[0] for rule in RULES.values() if ":" in rule.name_regex
)


def validate(name: str, value: str) -> None:
    """Refuse a known extra spec with a bad value, or an unknown key in a known namespace."""
    rule = RULES.get(name)
    if rule is None:
        rule = next((r for r in RULES.values() if re.fullmatch(r.name_regex, name)), None)
    if rule is not None:
        rule.check(value)
        return
    if ":" not in name:
        return
    namespace = name.split(":", 1)[0]
    if any(re.fullmatch(known, namespace) for known in NAMESPACES):
        _fail(f"extra spec '{name}' does not appear to be a valid extra spec.")
