"""Kernel modules: their dependencies, read from each ``.ko`` file's ``.modinfo`` section.

The Debian kernel package ships no ``modules.dep`` (its postinst runs
``depmod``), and the host need not have kmod, so the dependency closure and the
load order are computed here and written into the ramdisk as a plain list the
guest's init feeds to ``insmod``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from cumulo.virt.guest_image.errors import GuestImageError


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    depends: tuple[str, ...]


def modinfo(path: Path) -> dict[str, list[str]]:
    """The ``key=value`` strings of a module's ``.modinfo`` ELF section."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise GuestImageError(reason=f"{path} is not a 64-bit ELF kernel module")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_offset = sections[shstrndx][4]
    info: dict[str, list[str]] = {}
    for name_index, _type, _flags, _addr, offset, size in sections:
        end = data.index(b"\0", names_offset + name_index)
        if data[names_offset + name_index : end] != b".modinfo":
            continue
        for entry in data[offset : offset + size].split(b"\0"):
            key, sep, value = entry.decode("utf-8", "replace").partition("=")
            if sep:
                info.setdefault(key, []).append(value)
    return info


def index(modules_dir: Path) -> dict[str, Path]:
    """Every module of a kernel tree by its name (``-`` and ``_`` are the same to the kernel)."""
    return {p.name.removesuffix(".ko").replace("-", "_"): p for p in modules_dir.rglob("*.ko")}


def load_order(wanted: list[str], available: dict[str, Path], builtin: set[str]) -> list[Module]:
    """``wanted`` and everything they depend on, each after its dependencies.

    A wanted module the kernel has built in is skipped; one it has neither built
    in nor as a file is an error.
    """
    order: list[Module] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        name = name.replace("-", "_")
        if name in seen or name in builtin:
            return
        if name in chain:
            raise GuestImageError(reason=f"module dependency cycle: {' → '.join(chain)}")
        path = available.get(name)
        if path is None:
            raise GuestImageError(reason=f"the kernel has no module {name}")
        depends = tuple(d for dep in modinfo(path).get("depends", []) for d in dep.split(",") if d)
        for dep in depends:
            visit(dep, (*chain, name))
        seen.add(name)
        order.append(Module(name, path, depends))

    for name in wanted:
        visit(name, ())
    return order


def builtin_names(modules_builtin: Path) -> set[str]:
    """Names in the kernel's ``modules.builtin`` (``kernel/…/name.ko`` lines)."""
    if not modules_builtin.exists():
        return set()
    lines = modules_builtin.read_text().split()
    return {Path(line).name.removesuffix(".ko").replace("-", "_") for line in lines}
