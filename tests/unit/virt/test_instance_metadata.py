"""The config drive's files for a server, in the paths and JSON shapes Nova writes."""

from __future__ import annotations

import base64
import json
from typing import Any

from cumulo.db.models.instances import BlockDeviceMapping
from cumulo.network import model
from cumulo.virt.instance_metadata import InstanceMetadata, MetadataSource, PublicKey
from tests.compute_rows import instance

UUID = "b65cee2f-8c69-4aeb-be2f-f79742548fc2"
IMAGE = "3f0a6d4e-1c2b-4a5d-9e8f-0123456789ab"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkz demo@cumulo"
USER_DATA = b"#!/bin/sh\necho hello\n\xff\x00"
PORT_V4 = "5d9d4c9e-8e4b-4f5a-9c1d-2a3b4c5d6e7f"
PORT_V6 = "0aa1b2c3-d4e5-4f60-8a9b-0c1d2e3f4a5b"
NET_V4 = "a1a1a1a1-0000-4000-8000-000000000001"
NET_V6 = "b2b2b2b2-0000-4000-8000-000000000002"

# Nova's own test of metadata_for_config_drive lists these paths, in this order.
NOVA_DRIVE_PATHS = [
    "ec2/2009-04-04/user-data",
    "ec2/2009-04-04/meta-data.json",
    "ec2/latest/user-data",
    "ec2/latest/meta-data.json",
    "openstack/2012-08-10/meta_data.json",
    "openstack/2012-08-10/user_data",
    "openstack/2013-04-04/meta_data.json",
    "openstack/2013-04-04/user_data",
    "openstack/2013-10-17/meta_data.json",
    "openstack/2013-10-17/user_data",
    "openstack/2013-10-17/vendor_data.json",
    *[
        f"openstack/{version}/{name}"
        for version in ("2015-10-15", "2016-06-30")
        for name in ("meta_data.json", "user_data", "vendor_data.json", "network_data.json")
    ],
    *[
        f"openstack/{version}/{name}"
        for version in ("2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "latest")
        for name in (
            "meta_data.json",
            "user_data",
            "vendor_data.json",
            "network_data.json",
            "vendor_data2.json",
        )
    ],
]


def _version(address: str) -> int:
    return 6 if ":" in address else 4


def _fixed(address: str) -> model.FixedIP:
    return model.FixedIP(address=address, version=_version(address))


def _gateway(address: str) -> model.IP:
    return model.IP(address=address, type="gateway", version=_version(address))


def _dns(address: str) -> model.IP:
    return model.IP(address=address, type="dns", version=_version(address))


def _vif(port: str, network: model.Network, mac: str, vif_type: str = "bridge") -> model.VIF:
    return model.VIF(
        id=port, address=mac, network=network, type=vif_type, devname=model.devname(port)
    )


def _two_nics(*, dhcp: bool = False) -> model.NetworkInfo:
    """NIC 1: IPv4 with gateway, DNS and a host route; NIC 2: IPv6 with gateway."""
    v4 = model.Subnet(
        id="s4",
        cidr="10.0.0.0/24",
        version=4,
        gateway=_gateway("10.0.0.1"),
        dns=[_dns("8.8.8.8"), _dns("8.8.4.4")],
        ips=[_fixed("10.0.0.5")],
        routes=[model.Route(cidr="192.168.0.0/16", gateway=_gateway("10.0.0.254"))],
        dhcp_enabled=dhcp,
    )
    v6 = model.Subnet(
        id="s6",
        cidr="2001:db8::/64",
        version=6,
        gateway=_gateway("2001:db8::1"),
        dns=[_dns("8.8.8.8")],
        ips=[_fixed("2001:db8::5")],
        dhcp_enabled=dhcp,
    )
    first = model.Network(
        id=NET_V4, label="private", bridge="brq1", mtu=1450, project_id="p", subnets=[v4]
    )
    second = model.Network(
        id=NET_V6, label="v6", bridge="brq2", mtu=1500, project_id="p", subnets=[v6]
    )
    return model.NetworkInfo(
        vifs=[
            _vif(PORT_V4, first, "fa:16:3e:00:00:01"),
            _vif(PORT_V6, second, "fa:16:3e:00:00:02", vif_type="unbound"),
        ]
    )


def _server(**fields: Any) -> Any:
    values: dict[str, Any] = {
        "id": 42,
        "uuid": UUID,
        "display_name": "Web 1",
        "hostname": "web-1",
        "launch_index": 1,
        "image_ref": IMAGE,
        "key_name": "demo",
        "key_data": SSH_KEY,
        "user_data": base64.b64encode(USER_DATA).decode(),
        "meta": {"role": "webserver"},
        "security_groups": ["default", "web"],
        "root_device_name": "/dev/vda",
        "availability_zone": "zone-a",
    }
    values.update(fields)
    return instance("project-1", "user-1", **values)


def _files(server: Any, network_info: model.NetworkInfo | None = None, **kw: Any) -> Any:
    source = MetadataSource.from_instance(server, network_info or _two_nics(), **kw)
    return InstanceMetadata(source).files()


def _json(files: dict[str, bytes], path: str) -> Any:
    return json.loads(files[path])


def test_drive_has_novas_paths_in_novas_order() -> None:
    assert list(_files(_server())) == NOVA_DRIVE_PATHS


def test_user_data_is_the_decoded_bytes_and_only_there_when_given() -> None:
    files = _files(_server())
    assert files["openstack/latest/user_data"] == USER_DATA
    assert files["ec2/latest/user-data"] == USER_DATA

    without = _files(_server(user_data=None))
    assert not [p for p in without if p.endswith(("user_data", "user-data"))]
    assert len(without) == len(NOVA_DRIVE_PATHS) - 12


def test_latest_meta_data_has_novas_keys_in_novas_order() -> None:
    meta = _json(_files(_server(), admin_pass="s3cret"), "openstack/latest/meta_data.json")
    seed = meta.pop("random_seed")
    assert len(base64.b64decode(seed)) == 512
    assert meta == {
        "uuid": UUID,
        "meta": {"role": "webserver"},
        "admin_pass": "s3cret",
        "public_keys": {"demo": SSH_KEY},
        "keys": [{"name": "demo", "type": "ssh", "data": SSH_KEY}],
        "hostname": "web-1.novalocal",
        "name": "Web 1",
        "launch_index": 1,
        "availability_zone": "zone-a",
        "project_id": "project-1",
        "devices": [],
        "dedicated_cpus": [],
    }
    assert list(meta)[:3] == ["uuid", "meta", "admin_pass"]


def test_each_version_has_only_the_keys_it_introduced() -> None:
    files = _files(_server())
    keys = {
        version: set(_json(files, f"openstack/{version}/meta_data.json"))
        for version in ("2012-08-10", "2013-04-04", "2015-10-15", "2016-06-30", "2020-10-14")
    }
    base = {"uuid", "meta", "public_keys", "keys", "hostname", "name", "launch_index"}
    base |= {"availability_zone"}
    assert keys["2012-08-10"] == base
    assert keys["2013-04-04"] == base | {"random_seed"}
    assert keys["2015-10-15"] == base | {"random_seed", "project_id"}
    assert keys["2016-06-30"] == base | {"random_seed", "project_id", "devices"}
    assert keys["2020-10-14"] == keys["2016-06-30"] | {"dedicated_cpus"}


def test_no_key_pair_no_admin_pass_no_metadata() -> None:
    meta = _json(
        _files(_server(key_name=None, key_data=None, meta={})), "openstack/latest/meta_data.json"
    )
    assert not {"public_keys", "keys", "admin_pass", "meta"} & set(meta)
    ec2 = _json(_files(_server(key_name=None, key_data=None)), "ec2/latest/meta-data.json")
    assert "public-keys" not in ec2


def test_x509_key_pairs_are_typed_as_such() -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    meta = _json(_files(_server(key_data=cert)), "openstack/latest/meta_data.json")
    assert meta["keys"] == [{"name": "demo", "type": "x509", "data": cert}]


def test_network_data_of_two_static_nics() -> None:
    tap_v4, tap_v6 = model.devname(PORT_V4), model.devname(PORT_V6)
    assert _json(_files(_server()), "openstack/latest/network_data.json") == {
        "links": [
            {
                "id": tap_v4,
                "vif_id": PORT_V4,
                "type": "bridge",
                "mtu": 1450,
                "ethernet_mac_address": "fa:16:3e:00:00:01",
            },
            {
                "id": tap_v6,
                "vif_id": PORT_V6,
                "type": "phy",
                "mtu": 1500,
                "ethernet_mac_address": "fa:16:3e:00:00:02",
            },
        ],
        "networks": [
            {
                "id": "network0",
                "type": "ipv4",
                "link": tap_v4,
                "ip_address": "10.0.0.5",
                "netmask": "255.255.255.0",
                "routes": [
                    {"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"},
                    {"network": "192.168.0.0", "netmask": "255.255.0.0", "gateway": "10.0.0.254"},
                ],
                "network_id": NET_V4,
                "services": [
                    {"type": "dns", "address": "8.8.8.8"},
                    {"type": "dns", "address": "8.8.4.4"},
                ],
            },
            {
                "id": "network1",
                "type": "ipv6",
                "link": tap_v6,
                "ip_address": "2001:db8::5",
                "netmask": "ffff:ffff:ffff:ffff::",
                "routes": [{"network": "::", "netmask": "::", "gateway": "2001:db8::1"}],
                "network_id": NET_V6,
                "services": [{"type": "dns", "address": "8.8.8.8"}],
            },
        ],
        "services": [
            {"type": "dns", "address": "8.8.8.8"},
            {"type": "dns", "address": "8.8.4.4"},
        ],
    }


def test_network_data_of_dhcp_subnets_names_only_the_network() -> None:
    data = _json(_files(_server(), _two_nics(dhcp=True)), "openstack/latest/network_data.json")
    tap_v4, tap_v6 = model.devname(PORT_V4), model.devname(PORT_V6)
    assert data["networks"] == [
        {"id": "network0", "type": "ipv4_dhcp", "link": tap_v4, "network_id": NET_V4},
        {"id": "network1", "type": "ipv6_dhcp", "link": tap_v6, "network_id": NET_V6},
    ]
    assert data["services"] == [
        {"type": "dns", "address": "8.8.8.8"},
        {"type": "dns", "address": "8.8.4.4"},
    ]


def test_network_data_is_empty_without_nics_and_absent_before_liberty() -> None:
    files = _files(_server(), model.NetworkInfo())
    assert _json(files, "openstack/latest/network_data.json") == {}
    assert "openstack/2013-10-17/network_data.json" not in files


def test_vendor_data_is_novas_default() -> None:
    files = _files(_server())
    assert _json(files, "openstack/latest/vendor_data.json") == {}
    assert _json(files, "openstack/latest/vendor_data2.json") == {"static": {}}


def test_ec2_meta_data() -> None:
    volume = BlockDeviceMapping(
        source_type="volume", destination_type="volume", device_name="/dev/vdb", no_device=False
    )
    files = _files(_server(), block_devices=[volume])
    assert _json(files, "ec2/latest/meta-data.json") == {
        "ami-id": "ami-3f0a6d4e",
        "ami-launch-index": 1,
        "ami-manifest-path": "FIXME",
        "instance-id": "i-0000002a",
        "hostname": "web-1.novalocal",
        "local-ipv4": "10.0.0.5",
        "reservation-id": "r-" + UUID[:8],
        "security-groups": ["default", "web"],
        "public-keys": {"0": {"openssh-key": SSH_KEY}},
        "local-hostname": "web-1.novalocal",
        "public-hostname": "web-1.novalocal",
        "public-ipv4": "",
        "instance-type": "m1.tiny",
        "block-device-mapping": {"ami": "vda", "root": "/dev/vda", "ebs0": "/dev/vdb"},
        "placement": {"availability-zone": "zone-a"},
        "instance-action": "none",
    }
    assert files["ec2/2009-04-04/meta-data.json"] == files["ec2/latest/meta-data.json"]


def test_device_metadata_fields_follow_their_version() -> None:
    nic: dict[str, Any] = {"type": "nic", "bus": "pci", "address": "0000:00:03.0"}
    nic |= {"mac": "fa:16:3e:00:00:01", "tags": ["mgmt"], "vlan": 100, "vf_trusted": False}
    source = MetadataSource(
        uuid=UUID,
        name="n",
        hostname="n",
        project_id="p",
        availability_zone=None,
        devices=(nic,),
        public_keys=(PublicKey("k", SSH_KEY),),
    )
    files = InstanceMetadata(source).files()
    assert _json(files, "openstack/2016-06-30/meta_data.json")["devices"] == [
        {k: v for k, v in nic.items() if k not in ("vlan", "vf_trusted")}
    ]
    assert "vf_trusted" not in _json(files, "openstack/2017-02-22/meta_data.json")["devices"][0]
    assert _json(files, "openstack/latest/meta_data.json")["devices"] == [nic]
