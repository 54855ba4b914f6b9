#!/bin/sh
# What libvirt-daemon-system would do on a systemd machine, done by hand (its own
# scripts want systemd): the user QEMU runs as when libvirt starts it, which libvirt's
# QEMU driver must be able to resolve even when it runs QEMU as root, and the
# directories libvirtd needs. Idempotent; run as root by `make install`.
set -eu
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt
