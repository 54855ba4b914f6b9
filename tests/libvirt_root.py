"""The one libvirt embedded root of a test process.

libvirt's embedded QEMU driver can hold one root per process for the life of the
process, so every in-process test of the libvirt driver in a pytest worker shares
this root (guests are told apart by uuid and by the instances path in their
metadata); tests that start ``cumulo up`` get a root of their own in that process.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

_root: Path | None = None


def libvirt_uri() -> str:
    global _root
    if _root is None:
        if shutil.which("qemu-system-x86_64") is None:
            raise RuntimeError(
                "qemu-system-x86_64 is not installed: run `make install` (as root) first"
            )
        _root = Path(tempfile.mkdtemp(prefix="cumulo-test-libvirt-"))
    return f"qemu:///embed?root={_root}"
