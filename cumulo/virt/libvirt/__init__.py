"""The libvirt/QEMU hypervisor driver: ``driver.LibvirtDriver`` (see its module)."""

import os
import tempfile
from pathlib import Path

# libvirt reads where its own log goes once, when it loads (so here, before any module
# of this package imports it); by default it writes to standard error, where an
# embedded driver's notices would mix with cumulo's output.
os.environ.setdefault(
    "LIBVIRT_LOG_OUTPUTS", f"3:file:{Path(tempfile.gettempdir()) / 'cumulo-libvirt.log'}"
)
