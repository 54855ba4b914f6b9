"""Debian packages: which kernel to take, fetching ``.deb`` files, what the host has installed."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cumulo.virt.guest_image.commands import run
from cumulo.virt.guest_image.errors import GuestImageError
from cumulo.virt.guest_image.manifest import sha256

KERNEL_METAPACKAGE = "linux-image-amd64"
_KERNEL_PACKAGE = re.compile(r"^\s*Depends: (linux-image-[0-9][^\s]*-amd64)\s*$", re.MULTILINE)
_PRINT_URI = re.compile(
    r"^'(?P<url>[^']+)' (?P<file>\S+) (?P<size>\d+) SHA256:(?P<sha>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class Package:
    name: str
    version: str


def kernel_package(metapackage: str = KERNEL_METAPACKAGE) -> str:
    """The versioned kernel package the metapackage's candidate depends on."""
    found = _KERNEL_PACKAGE.search(run(["apt-cache", "depends", metapackage]))
    if found is None:
        raise GuestImageError(
            reason=f"apt knows no kernel behind {metapackage}; run apt-get update"
        )
    return found.group(1)


def download(package: str, cache_dir: Path) -> Path:
    """The candidate ``.deb`` of ``package`` in ``cache_dir``, fetched unless already there.

    A cached file is used only when its size and SHA-256 are those apt's index
    gives for the candidate; a fetch lands in a temporary directory first, so an
    interrupted one never leaves a partial ``.deb`` in the cache.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        listing = run(["apt-get", "download", "--print-uris", package], cwd=Path(tmp))
        found = _PRINT_URI.search(listing)
        if found is None:
            raise GuestImageError(reason=f"apt cannot download {package}; run apt-get update")
        target = cache_dir / found["file"]
        if _matches(target, int(found["size"]), found["sha"]):
            return target
        run(["apt-get", "download", package], cwd=Path(tmp))
        fetched = Path(tmp) / found["file"]
        if not _matches(fetched, int(found["size"]), found["sha"]):
            raise GuestImageError(reason=f"the download of {package} does not match apt's index")
        fetched.replace(target)
    return target


def _matches(path: Path, size: int, digest: str) -> bool:
    return path.is_file() and path.stat().st_size == size and sha256(path) == digest


def deb_package(deb: Path) -> Package:
    """The name and version a ``.deb`` file declares."""
    name, version = run(["dpkg-deb", "--field", deb, "Package", "Version"]).splitlines()[:2]
    return Package(name.partition(": ")[2], version.partition(": ")[2])


def extract(deb: Path, target: Path) -> None:
    """Unpack a ``.deb``'s files (no maintainer scripts run: no initramfs-tools on the host)."""
    run(["dpkg-deb", "-x", deb, target])


def installed(*packages: str) -> dict[str, str | None]:
    """The installed version of each package, ``None`` for one that is not installed."""
    versions: dict[str, str | None] = dict.fromkeys(packages)
    listing = run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Status}\\n", *packages],
        check=False,
    )
    for line in listing.splitlines():
        name, _, rest = line.partition(" ")
        version, _, status = rest.partition(" ")
        if name in versions and status == "installed":
            versions[name] = version
    return versions


def package_files(package: str) -> list[Path]:
    """The files an installed package owns."""
    return [Path(line) for line in run(["dpkg-query", "-L", package]).splitlines() if line]
