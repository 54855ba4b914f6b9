"""Running the host tools a build uses, with errors a user can act on."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from cumulo.virt.guest_image.errors import GuestImageError

PACKAGE_OF_TOOL = {
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg-deb": "dpkg",
    "dpkg-query": "dpkg",
    "ldd": "libc-bin",
    "mkfs.fat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "qemu-img": "qemu-utils",
}

TIMEOUT = 600.0


def run(
    args: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
    check: bool = True,
) -> str:
    """Run a tool and return its standard output; fail with its standard error.

    With ``check=False`` a non-zero exit is not an error (``dpkg-query`` exits 1
    when one of several packages is unknown, yet lists the others).
    """
    tool = str(args[0])
    if shutil.which(tool) is None:
        package = PACKAGE_OF_TOOL.get(tool, tool)
        raise GuestImageError(
            reason=f"{tool} is not installed (Debian package {package}, "
            "listed in tools/debian-packages.txt)"
        )
    try:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GuestImageError(reason=f"{tool} did not finish in {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-5:]
        raise GuestImageError(
            reason=f"{' '.join(str(a) for a in args)} exited with {done.returncode}: "
            + " / ".join(detail)
        )
    return done.stdout
