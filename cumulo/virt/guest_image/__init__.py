"""The guest image cumulo builds itself from Debian packages (``cumulo image build``).

A Debian kernel and a busybox userland in one ramdisk whose init mounts the
config drive, prints the instance's uuid, name and hostname and then
``CUMULO-GUEST-READY`` on the serial console, takes an address by DHCP, installs
the SSH keys for dropbear, and powers off on the ACPI power button. Two forms:
a BIOS-bootable qcow2 disk (syslinux), and the kernel with its ramdisk for a
direct kernel boot. ``builder.build`` makes both, ``manifest.json`` describes them.
"""

from cumulo.virt.guest_image.builder import MARKER, GuestImage, build
from cumulo.virt.guest_image.errors import GuestImageError
from cumulo.virt.guest_image.manifest import Manifest

__all__ = ["MARKER", "GuestImage", "GuestImageError", "Manifest", "build"]
