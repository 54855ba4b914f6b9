"""``build``: the guest image from Debian packages, or the one already built from the same inputs.

Steps: resolve and fetch the Debian kernel (``apt-get download``, cached),
unpack it (``dpkg-deb -x``: no maintainer scripts, no initramfs-tools), pack
the userland into the ramdisk, make the bootable disk, checksum everything
into the manifest. The work happens in a temporary directory inside the
output directory, under a lock; the outputs replace the old ones only once
all exist, the manifest last, so an interrupted build leaves either the old
image or none, never a half-new one. Nothing is mounted and no loop device is
used, so there is nothing else to release when a step fails.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cumulo.virt.guest_image import debian, disk, initramfs, kernel
from cumulo.virt.guest_image import manifest as mf
from cumulo.virt.guest_image.errors import GuestImageError
from cumulo.virt.guest_image.manifest import FORMAT_VERSION, Manifest, PackageInfo

MARKER = "CUMULO-GUEST-READY"
CMDLINE = "console=ttyS0 quiet"
DISK = "cumulo-guest.qcow2"
KERNEL = "vmlinuz"
RAMDISK = "initrd.img"
VMLINUX = "vmlinux"
MANIFEST = "manifest.json"
SIZE_LIMIT = 32 << 20
"""The disk image, and the kernel with its ramdisk, must each stay under this."""
BUSYBOX_PACKAGE = "busybox-static"
SSH_PACKAGE = "dropbear-bin"
_WORK_PREFIX = ".build-"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GuestImage:
    """A built image: the disk (BIOS-bootable qcow2), and the kernel/ramdisk form."""

    directory: Path
    disk: Path
    kernel: Path
    ramdisk: Path
    cmdline: str
    """What the kernel form needs on its command line (the disk's bootloader passes the same)."""
    marker: str
    """The line the guest prints on its serial console once it is up."""
    manifest: Manifest
    vmlinux: Path | None = None
    """The uncompressed kernel, when the build was asked for it (faster to boot under TCG)."""


@dataclass(frozen=True)
class _Inputs:
    recipe: str
    busybox: PackageInfo
    ssh_server: PackageInfo | None
    uncompressed_kernel: bool


def build(
    output_dir: Path,
    cache_dir: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
    uncompressed_kernel: bool = False,
) -> GuestImage:
    """The image in ``output_dir``: the existing one when it was built from the same inputs.

    Inputs are the builder (its format version, scripts and module list) and
    the installed busybox-static and dropbear-bin; the kernel is the one apt
    offered when the image was built, and ``force`` rebuilds with the one it
    offers now. An image with ``vmlinux`` also serves a caller that does not
    ask for it. ``cache_dir`` keeps downloaded packages between builds.
    """
    say: Progress = progress or (lambda _line: None)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with _locked(output_dir / ".lock"):
            inputs = _current_inputs(uncompressed_kernel)
            existing = None if force else _reusable(output_dir, inputs)
            if existing is not None:
                say(f"reusing the image built {existing.built_at} in {output_dir}")
                return _image(output_dir, existing)
            _remove_stale_work(output_dir)
            with tempfile.TemporaryDirectory(dir=output_dir, prefix=_WORK_PREFIX) as work:
                made = _build_in(Path(work), cache_dir, inputs, say)
                _publish(Path(work), output_dir, made)
            return _image(output_dir, made)
    except OSError as exc:
        raise GuestImageError(reason=str(exc)) from exc


def recipe_digest() -> str:
    """SHA-256 over what the builder puts into every image besides the packages."""
    recipe = {
        "format_version": FORMAT_VERSION,
        "marker": MARKER,
        "cmdline": CMDLINE,
        "modules": initramfs.GUEST_MODULES,
        "data": {
            name: hashlib.sha256(initramfs.data_file(name)).hexdigest()
            for name in sorted(initramfs.DATA_FILES)
        },
        "syslinux": disk.syslinux_config(CMDLINE),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def _current_inputs(uncompressed_kernel: bool) -> _Inputs:
    versions = debian.installed(BUSYBOX_PACKAGE, SSH_PACKAGE)
    busybox_version = versions[BUSYBOX_PACKAGE]
    if busybox_version is None:
        raise GuestImageError(
            reason=f"{BUSYBOX_PACKAGE} is not installed (listed in tools/debian-packages.txt)"
        )
    ssh_version = versions[SSH_PACKAGE]
    ssh_server = (
        None if ssh_version is None else PackageInfo(package=SSH_PACKAGE, version=ssh_version)
    )
    return _Inputs(
        recipe=recipe_digest(),
        busybox=PackageInfo(package=BUSYBOX_PACKAGE, version=busybox_version),
        ssh_server=ssh_server,
        uncompressed_kernel=uncompressed_kernel,
    )


def _reusable(output_dir: Path, inputs: _Inputs) -> Manifest | None:
    found = mf.read(output_dir / MANIFEST)
    if found is None:
        return None
    same = (
        found.format_version == FORMAT_VERSION
        and found.recipe == inputs.recipe
        and found.busybox == inputs.busybox
        and found.ssh_server == inputs.ssh_server
        and (VMLINUX in found.files or not inputs.uncompressed_kernel)
    )
    return found if same and found.intact(output_dir) else None


def _image(output_dir: Path, made: Manifest) -> GuestImage:
    return GuestImage(
        directory=output_dir,
        disk=output_dir / DISK,
        kernel=output_dir / KERNEL,
        ramdisk=output_dir / RAMDISK,
        cmdline=made.cmdline,
        marker=made.marker,
        manifest=made,
        vmlinux=output_dir / VMLINUX if VMLINUX in made.files else None,
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_work(output_dir: Path) -> None:
    """Work directories a killed build left behind (we hold the lock: none is in use)."""
    for stale in output_dir.glob(f"{_WORK_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def _step(say: Progress, what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    say(f"{time.monotonic() - started:5.1f} s  {what}")


def _fetch_kernel(
    work: Path, cache_dir: Path, say: Progress
) -> tuple[debian.Package, initramfs.KernelTree]:
    with _step(say, "resolve the kernel package"):
        kernel_name = debian.kernel_package()
    with _step(say, f"fetch {kernel_name} into {cache_dir}"):
        deb = debian.download(kernel_name, cache_dir)
        package = debian.deb_package(deb)
    with _step(say, f"unpack {deb.name}"):
        debian.extract(deb, work / "kernel-package")
        return package, initramfs.KernelTree.find(work / "kernel-package")


def _build_in(work: Path, cache_dir: Path, inputs: _Inputs, say: Progress) -> Manifest:
    started = time.monotonic()
    package, tree = _fetch_kernel(work, cache_dir, say)
    with _step(say, f"ramdisk: busybox, {len(initramfs.GUEST_MODULES)} modules and deps, init"):
        modules = _make_ramdisk(tree, work / RAMDISK, inputs)
    shutil.copyfile(tree.vmlinuz, work / KERNEL)
    if inputs.uncompressed_kernel:
        with _step(say, "extract the uncompressed kernel (vmlinux)"):
            kernel.extract_vmlinux(tree.vmlinuz, work / VMLINUX)
    shutil.rmtree(work / "kernel-package")
    with _step(say, "disk: MBR, FAT16 partition, syslinux, qcow2"):
        disk.build_disk(
            work, {KERNEL: work / KERNEL, RAMDISK: work / RAMDISK}, CMDLINE, work / DISK
        )
    with _step(say, "checksums and manifest"):
        names = [DISK, KERNEL, RAMDISK] + ([VMLINUX] if inputs.uncompressed_kernel else [])
        files = {name: mf.file_info(work / name) for name in names}
        _check_sizes(files)
    return Manifest(
        format_version=FORMAT_VERSION,
        recipe=inputs.recipe,
        marker=MARKER,
        cmdline=CMDLINE,
        kernel=mf.KernelInfo(package=package.name, version=package.version, release=tree.release),
        busybox=inputs.busybox,
        ssh_server=inputs.ssh_server,
        modules=modules,
        disk_format="qcow2",
        disk_virtual_size=disk.virtual_size(work / DISK),
        files=files,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.monotonic() - started, 2),
    )


def _make_ramdisk(tree: initramfs.KernelTree, target: Path, inputs: _Inputs) -> list[str]:
    root = initramfs.skeleton()
    initramfs.add_busybox(root, _busybox_binary())
    modules = initramfs.add_modules(root, tree)
    if inputs.ssh_server is not None:
        initramfs.add_ssh_server(root)
    target.write_bytes(initramfs.pack(root))
    return modules


def _busybox_binary() -> Path:
    for path in debian.package_files(BUSYBOX_PACKAGE):
        if path.name == "busybox" and path.is_file():
            return path
    raise GuestImageError(reason=f"{BUSYBOX_PACKAGE} installs no busybox binary")


def _check_sizes(files: dict[str, mf.FileInfo]) -> None:
    kernel_form = files[KERNEL].size + files[RAMDISK].size
    for what, size in ((DISK, files[DISK].size), (f"{KERNEL} + {RAMDISK}", kernel_form)):
        if size >= SIZE_LIMIT:
            raise GuestImageError(
                reason=f"{what} is {size / (1 << 20):.1f} MiB, over {SIZE_LIMIT >> 20} MiB"
            )


def _publish(work: Path, output_dir: Path, made: Manifest) -> None:
    """Move the new files in, the manifest last; drop outputs this build did not make."""
    (output_dir / MANIFEST).unlink(missing_ok=True)
    for name in (DISK, KERNEL, RAMDISK, VMLINUX):
        if name in made.files:
            os.replace(work / name, output_dir / name)
        else:
            (output_dir / name).unlink(missing_ok=True)
    mf.write(made, work / MANIFEST)
    os.replace(work / MANIFEST, output_dir / MANIFEST)
