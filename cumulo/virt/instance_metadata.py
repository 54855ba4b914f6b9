"""What a guest reads about itself on its config drive, in the files and shapes Nova writes.

Nova's ``InstanceMetadata.metadata_for_config_drive`` (``nova/api/metadata/base.py``)
lays the drive out as::

    ec2/2009-04-04/meta-data.json       ec2/2009-04-04/user-data   (only with user data)
    ec2/latest/meta-data.json           ec2/latest/user-data
    openstack/<version>/meta_data.json  for each of OPENSTACK_VERSIONS, then ``latest``
    openstack/<version>/user_data       only with user data
    openstack/<version>/vendor_data.json    from 2013-10-17
    openstack/<version>/network_data.json  from 2015-10-15
    openstack/<version>/vendor_data2.json  from 2016-10-06

A dated directory holds only what that version of the format knew, so a guest
that asks for an old version reads what it expects; ``latest`` has everything.
``network_data.json`` follows Nova's ``nova/virt/netutils.py``
``get_network_metadata``: one link per NIC, the first IPv4 and first IPv6 subnet
of each NIC as networks (``ipvN_dhcp`` when the subnet runs DHCP, else the
static address, routes and DNS), and every DNS server once under ``services``.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cumulo.db.models.instances import BlockDeviceMapping, Instance
from cumulo.network.model import VIF, NetworkInfo, Subnet

FOLSOM = "2012-08-10"
GRIZZLY = "2013-04-04"
HAVANA = "2013-10-17"
LIBERTY = "2015-10-15"
NEWTON_ONE = "2016-06-30"
NEWTON_TWO = "2016-10-06"
OCATA = "2017-02-22"
ROCKY = "2018-08-27"
VICTORIA = "2020-10-14"
OPENSTACK_VERSIONS = (
    FOLSOM,
    GRIZZLY,
    HAVANA,
    LIBERTY,
    NEWTON_ONE,
    NEWTON_TWO,
    OCATA,
    ROCKY,
    VICTORIA,
)
LATEST = "latest"
EC2_VERSIONS = ("2009-04-04", LATEST)
"""The EC2 versions Nova puts on a drive (``config_drive_skip_versions`` drops the older ones)."""

DHCP_DOMAIN = "novalocal"
"""Nova's default ``[api] dhcp_domain``, appended to the hostname the guest is given."""

DEFAULT_BLOCK_DEVICE_MAPPING = {
    "ami": "sda1",
    "ephemeral0": "sda2",
    "root": "/dev/sda1",
    "swap": "sda3",
}
"""EC2 ``block-device-mapping`` without a root device name (Nova's ``_DEFAULT_MAPPINGS``)."""

_RANDOM_SEED_BYTES = 512
_LEGACY_EXPOSED_VIF_TYPES = frozenset(
    {"bridge", "dvs", "hw_veb", "hyperv", "ovs", "tap", "vhostuser", "vif"}
)
"""VIF types Nova shows as a link's ``type``; any other type is shown as ``phy``."""


class PublicKey(NamedTuple):
    name: str
    data: str
    type: str = "ssh"


@dataclass(frozen=True)
class Ec2Identity:
    """What only the EC2-style ``meta-data.json`` shows."""

    instance_id: str = ""
    ami_id: str | None = None
    kernel_id: str | None = None
    ramdisk_id: str | None = None
    reservation_id: str = ""
    instance_type: str = ""
    security_groups: tuple[str, ...] = ()
    block_device_mapping: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_BLOCK_DEVICE_MAPPING)
    )


@dataclass(frozen=True)
class MetadataSource:
    """Everything the drive says about one server, gathered before any file is written."""

    uuid: str
    name: str
    hostname: str
    """As the guest is told it, with the DHCP domain (``web-1.novalocal``)."""
    project_id: str
    availability_zone: str | None
    launch_index: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)
    public_keys: tuple[PublicKey, ...] = ()
    user_data: bytes | None = None
    admin_pass: str | None = None
    network_info: NetworkInfo = field(default_factory=NetworkInfo)
    devices: tuple[Mapping[str, Any], ...] = ()
    """Nova's device metadata (tagged NICs and disks, with bus addresses) if the driver has it."""
    dedicated_cpus: tuple[int, ...] = ()
    ec2: Ec2Identity = field(default_factory=Ec2Identity)

    @classmethod
    def from_instance(
        cls,
        instance: Instance,
        network_info: NetworkInfo,
        *,
        admin_pass: str | None = None,
        block_devices: Sequence[BlockDeviceMapping] = (),
        dhcp_domain: str = DHCP_DOMAIN,
    ) -> MetadataSource:
        """The drive's content for ``instance``, as ``API.create`` stored it.

        The key pair's name and public text are on the row (``key_name``, ``key_data``);
        its type is not, so it is told from the text (an X.509 certificate or SSH).
        """
        keys: tuple[PublicKey, ...] = ()
        if instance.key_name and instance.key_data is not None:
            keys = (PublicKey(instance.key_name, instance.key_data, key_type(instance.key_data)),)
        user_data = None
        if instance.user_data is not None:
            user_data = base64.b64decode(instance.user_data)
        return cls(
            uuid=instance.uuid,
            name=instance.display_name,
            hostname=f"{instance.hostname}.{dhcp_domain}" if dhcp_domain else instance.hostname,
            project_id=instance.project_id,
            availability_zone=instance.availability_zone,
            launch_index=instance.launch_index or 0,
            metadata=dict(instance.meta or {}),
            public_keys=keys,
            user_data=user_data,
            admin_pass=admin_pass,
            network_info=network_info,
            ec2=Ec2Identity(
                instance_id=f"i-{instance.id or 0:08x}",
                ami_id=ec2_image_id("ami", instance.image_ref),
                kernel_id=ec2_image_id("aki", instance.kernel_id),
                ramdisk_id=ec2_image_id("ari", instance.ramdisk_id),
                reservation_id=instance.reservation_id,
                instance_type=str((instance.flavor or {}).get("name", "")),
                security_groups=tuple(instance.security_groups or ()),
                block_device_mapping=ec2_block_device_mapping(
                    instance.root_device_name, block_devices
                ),
            ),
        )


def key_type(public_key: str) -> str:
    """Nova's key pair type (``ssh`` or ``x509``) of a public key's text."""
    return "x509" if public_key.lstrip().startswith("-----BEGIN CERTIFICATE") else "ssh"


def ec2_image_id(prefix: str, image_id: str | None) -> str | None:
    """An EC2-style id (``ami-1a2b3c4d``) for an image: its first 8 hex digits, or a CRC of it.

    Nova numbers images in a mapping table of its own; cumulo has none, so the id
    is taken from the image id itself, which keeps it stable across hosts.
    """
    if not image_id:
        return None
    digits = image_id.replace("-", "")[:8].lower()
    if len(digits) != 8 or any(c not in "0123456789abcdef" for c in digits):
        digits = f"{zlib.crc32(image_id.encode()):08x}"
    return f"{prefix}-{digits}"


def ec2_block_device_mapping(
    root_device_name: str | None, block_devices: Sequence[BlockDeviceMapping]
) -> dict[str, str]:
    """Nova's ``instance_block_mapping``: ``ami``, ``root``, ``ebsN``, ``ephemeralN``, ``swap``."""
    if root_device_name is None:
        return dict(DEFAULT_BLOCK_DEVICE_MAPPING)
    mapping = {"ami": root_device_name.removeprefix("/dev/"), "root": root_device_name}
    named = [bdm for bdm in block_devices if bdm.device_name and not bdm.no_device]
    volumes = sorted(str(bdm.device_name) for bdm in named if bdm.destination_type == "volume")
    local = [bdm for bdm in named if bdm.destination_type != "volume"]
    blanks = [bdm for bdm in local if bdm.source_type == "blank"]
    mapping.update({f"ebs{n}": device for n, device in enumerate(volumes)})
    swaps = [bdm for bdm in blanks if bdm.guest_format == "swap"]
    if swaps:
        mapping["swap"] = str(swaps[-1].device_name)
    ephemerals = [bdm for bdm in blanks if bdm.guest_format != "swap"]
    mapping.update({f"ephemeral{n}": str(bdm.device_name) for n, bdm in enumerate(ephemerals)})
    return mapping


def _since(version: str, introduced: str) -> bool:
    return version == LATEST or version >= introduced


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


class InstanceMetadata:
    """The files of one server's config drive (Nova's ``InstanceMetadata`` for a drive)."""

    def __init__(self, source: MetadataSource) -> None:
        self.source = source
        self.network_data = network_data(source.network_info)

    def files(self) -> dict[str, bytes]:
        """Path on the drive → content, in Nova's order."""
        user_data = self.source.user_data
        files: dict[str, bytes] = {}
        for version in EC2_VERSIONS:
            if user_data is not None:
                files[f"ec2/{version}/user-data"] = user_data
            files[f"ec2/{version}/meta-data.json"] = _json(self.ec2_meta_data())
        for version in (*OPENSTACK_VERSIONS, LATEST):
            folder = f"openstack/{version}"
            files[f"{folder}/meta_data.json"] = _json(self.meta_data(version))
            if user_data is not None:
                files[f"{folder}/user_data"] = user_data
            if _since(version, HAVANA):
                files[f"{folder}/vendor_data.json"] = _json({})
            if _since(version, LIBERTY):
                files[f"{folder}/network_data.json"] = _json(self.network_data or {})
            if _since(version, NEWTON_TWO):
                files[f"{folder}/vendor_data2.json"] = _json({"static": {}})
        return files

    def meta_data(self, version: str) -> dict[str, Any]:
        """``openstack/<version>/meta_data.json``, with the keys that version has."""
        source = self.source
        data: dict[str, Any] = {"uuid": source.uuid}
        if source.metadata:
            data["meta"] = dict(source.metadata)
        if source.admin_pass:
            data["admin_pass"] = source.admin_pass
        if source.public_keys:
            data["public_keys"] = {key.name: key.data for key in source.public_keys}
            data["keys"] = [
                {"name": key.name, "type": key.type, "data": key.data} for key in source.public_keys
            ]
        data["hostname"] = source.hostname
        data["name"] = source.name
        data["launch_index"] = source.launch_index
        data["availability_zone"] = source.availability_zone
        if _since(version, GRIZZLY):
            data["random_seed"] = base64.b64encode(os.urandom(_RANDOM_SEED_BYTES)).decode()
        if _since(version, LIBERTY):
            data["project_id"] = source.project_id
        if _since(version, NEWTON_ONE):
            data["devices"] = [_device(device, version) for device in source.devices]
        if _since(version, VICTORIA):
            data["dedicated_cpus"] = list(source.dedicated_cpus)
        return data

    def ec2_meta_data(self) -> dict[str, Any]:
        """``ec2/<version>/meta-data.json`` (the same for every EC2 version on the drive)."""
        source, ec2 = self.source, self.source.ec2
        fixed = [ip.address for ip in source.network_info.fixed_ips() if ip.version == 4]
        floating = [f.address for ip in source.network_info.fixed_ips() for f in ip.floating_ips]
        data: dict[str, Any] = {
            "ami-id": ec2.ami_id,
            "ami-launch-index": source.launch_index,
            "ami-manifest-path": "FIXME",
            "instance-id": ec2.instance_id,
            "hostname": source.hostname,
            "local-ipv4": fixed[0] if fixed else None,
            "reservation-id": ec2.reservation_id,
            "security-groups": list(ec2.security_groups),
        }
        if source.public_keys:
            data["public-keys"] = {"0": {"openssh-key": source.public_keys[0].data}}
        data["local-hostname"] = source.hostname
        data["public-hostname"] = source.hostname
        data["public-ipv4"] = floating[0] if floating else ""
        data["instance-type"] = ec2.instance_type
        data["block-device-mapping"] = dict(ec2.block_device_mapping)
        if ec2.kernel_id:
            data["kernel-id"] = ec2.kernel_id
        if ec2.ramdisk_id:
            data["ramdisk-id"] = ec2.ramdisk_id
        data["placement"] = {"availability-zone": source.availability_zone}
        data["instance-action"] = "none"
        return data


def _device(device: Mapping[str, Any], version: str) -> dict[str, Any]:
    """A device entry without the fields its version did not have (``vlan``, ``vf_trusted``)."""
    shown = dict(device)
    if not _since(version, OCATA):
        shown.pop("vlan", None)
    if not _since(version, ROCKY):
        shown.pop("vf_trusted", None)
    return shown


def network_data(network_info: NetworkInfo) -> dict[str, Any] | None:
    """``network_data.json`` of Nova's ``get_network_metadata``; None for a server without NICs."""
    if not network_info.vifs:
        return None
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, str]] = []
    for vif in (v for v in network_info.vifs if v.network.subnets):
        link = _link(vif, len(links))
        links.append(link)
        for subnet in (_first_subnet(vif, 4), _first_subnet(vif, 6)):
            if subnet is None or not subnet.ips:
                continue
            networks.append(_l3_network(vif, subnet, len(networks), link["id"]))
            services += [dns for dns in _dns_services(subnet) if dns not in services]
    return {"links": links, "networks": networks, "services": services}


def _first_subnet(vif: VIF, version: int) -> Subnet | None:
    return next((s for s in vif.network.subnets if s.version == version), None)


def _link(vif: VIF, number: int) -> dict[str, Any]:
    return {
        "id": vif.devname or f"interface{number}",
        "vif_id": vif.id,
        "type": vif.type if vif.type in _LEGACY_EXPOSED_VIF_TYPES else "phy",
        "mtu": vif.network.mtu,
        "ethernet_mac_address": vif.address,
    }


def _l3_network(vif: VIF, subnet: Subnet, number: int, link_id: str) -> dict[str, Any]:
    ident, version = f"network{number}", subnet.version
    if subnet.dhcp_enabled:
        return {
            "id": ident,
            "type": f"ipv{version}_dhcp",
            "link": link_id,
            "network_id": vif.network.id,
        }
    return {
        "id": ident,
        "type": f"ipv{version}",
        "link": link_id,
        "ip_address": subnet.ips[0].address,
        "netmask": str(ipaddress.ip_network(subnet.cidr, strict=False).netmask),
        "routes": _routes(subnet),
        "network_id": vif.network.id,
        "services": _dns_services(subnet),
    }


def _routes(subnet: Subnet) -> list[dict[str, str | None]]:
    routes: list[dict[str, str | None]] = []
    if subnet.gateway is not None and subnet.gateway.address:
        default = "0.0.0.0" if subnet.version == 4 else "::"
        routes.append({"network": default, "netmask": default, "gateway": subnet.gateway.address})
    for route in subnet.routes:
        destination = ipaddress.ip_network(route.cidr, strict=False)
        routes.append(
            {
                "network": str(destination.network_address),
                "netmask": str(destination.netmask),
                "gateway": route.gateway.address if route.gateway is not None else None,
            }
        )
    return routes


def _dns_services(subnet: Subnet) -> list[dict[str, str]]:
    return [{"type": "dns", "address": ip.address} for ip in subnet.dns]
