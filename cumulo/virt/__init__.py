"""Hypervisor drivers (nova/virt): one driver interface, a ``fake`` and a
``libvirt`` driver. Arrives with the boot pipeline."""
