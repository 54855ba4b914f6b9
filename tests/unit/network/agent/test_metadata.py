"""The metadata service, read as guests read it.

The URL tree is read over loopback in this process's namespace with httpx: every
address of 127.0.0.0/8 is local, so connections from 127.0.0.2 and 127.0.0.3 stand
for two guests. The rest runs in namespaces each test makes: a "host" holding a
bridge, the "net" namespace where the service listens on 169.254.169.254, and
guests on the bridge that reach it with busybox wget through a route via the
net namespace's address.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from cumulo.network import model
from cumulo.network.agent import linux_net
from cumulo.network.agent.metadata import METADATA_ADDRESS, MetadataProxy, MetadataProxyError
from cumulo.virt.instance_metadata import (
    OPENSTACK_VERSIONS,
    Ec2Identity,
    InstanceMetadata,
    MetadataSource,
    PublicKey,
)

UUID_A = "b65cee2f-8c69-4aeb-be2f-f79742548fc2"
UUID_B = "0c0ffee0-1111-4222-8333-444455556666"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkz demo@cumulo"
USER_DATA = b"#!/bin/sh\necho hello\n\xff\x00"
EC2_VERSIONS = [
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
    "latest",
]
LATEST_EC2_KEYS = [
    "ami-id",
    "ami-launch-index",
    "ami-manifest-path",
    "block-device-mapping/",
    "hostname",
    "instance-action",
    "instance-id",
    "instance-type",
    "local-hostname",
    "local-ipv4",
    "placement/",
    "public-hostname",
    "public-ipv4",
    "public-keys/",
    "reservation-id",
    "security-groups",
]


def _network_info(fixed_ip: str) -> model.NetworkInfo:
    subnet = model.Subnet(
        id="s4",
        cidr="10.0.0.0/24",
        gateway=model.IP(address="10.0.0.1", type="gateway"),
        ips=[model.FixedIP(address=fixed_ip)],
    )
    network = model.Network(
        id="net-1", label="private", bridge="brq1", mtu=1450, project_id="p", subnets=[subnet]
    )
    port = "5d9d4c9e-8e4b-4f5a-9c1d-2a3b4c5d6e7f"
    vif = model.VIF(
        id=port,
        address="fa:16:3e:00:00:01",
        network=network,
        type="bridge",
        devname=model.devname(port),
    )
    return model.NetworkInfo(vifs=[vif])


def _metadata(uuid_: str = UUID_A, fixed_ip: str = "10.0.0.5", **fields: Any) -> InstanceMetadata:
    values: dict[str, Any] = {
        "uuid": uuid_,
        "name": "Web 1",
        "hostname": "web-1.novalocal",
        "project_id": "project-1",
        "availability_zone": "zone-a",
        "metadata": {"role": "webserver"},
        "public_keys": (PublicKey("demo", SSH_KEY),),
        "user_data": USER_DATA,
        "network_info": _network_info(fixed_ip),
        "ec2": Ec2Identity(
            instance_id="i-0000002a",
            ami_id="ami-3f0a6d4e",
            reservation_id="r-8x1yq2zb",
            instance_type="m1.tiny",
            security_groups=("default", "web"),
            block_device_mapping={"ami": "vda", "root": "/dev/vda", "ebs0": "/dev/vdb"},
        ),
    }
    values.update(fields)
    return InstanceMetadata(MetadataSource(**values))


@dataclass
class Directory:
    """The caller's lookup: the instance at each fixed IP, and every address it was asked."""

    by_ip: dict[str, InstanceMetadata]
    asked: list[str] = field(default_factory=list)

    async def __call__(self, remote_ip: str) -> InstanceMetadata | None:
        self.asked.append(remote_ip)
        return self.by_ip.get(remote_ip)


Serve = Callable[..., Awaitable[MetadataProxy]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start `MetadataProxy`s (on a free loopback port unless told otherwise); stop them all."""
    started: list[MetadataProxy] = []

    async def start(lookup: Any, namespace: str | None = None, **kw: Any) -> MetadataProxy:
        if namespace is None:
            kw = {"address": "127.0.0.1", "port": 0, **kw}
        proxy = MetadataProxy(namespace, lookup, **kw)
        await proxy.start()
        started.append(proxy)
        return proxy

    try:
        yield start
    finally:
        for proxy in started:
            await proxy.stop()


def _client(proxy: MetadataProxy, source: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{proxy.port}",
        transport=httpx.AsyncHTTPTransport(local_address=source),
        timeout=5,
    )


@pytest.fixture
async def guest(serve: Serve) -> AsyncIterator[httpx.AsyncClient]:
    """A client at 127.0.0.1, which the service knows as the instance of `_metadata()`."""
    proxy = await serve(Directory({"127.0.0.1": _metadata()}))
    async with _client(proxy) as client:
        yield client


async def _text(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.text


# -- the URL tree -------------------------------------------------------------------------


async def test_root_lists_ec2_versions_and_openstack_lists_its_own(
    guest: httpx.AsyncClient,
) -> None:
    assert await _text(guest, "/") == "\n".join(EC2_VERSIONS)
    assert await _text(guest, "/ec2") == "\n".join(EC2_VERSIONS)
    assert (await _text(guest, "/openstack")).split("\n") == [*OPENSTACK_VERSIONS, "latest"]


async def test_openstack_version_lists_the_files_it_has(guest: httpx.AsyncClient) -> None:
    assert (await _text(guest, "/openstack/latest/")).split("\n") == [
        "meta_data.json",
        "user_data",
        "vendor_data.json",
        "network_data.json",
        "vendor_data2.json",
    ]
    assert await _text(guest, "/openstack/2012-08-10") == "meta_data.json\nuser_data"


async def test_openstack_documents_are_the_config_drives(guest: httpx.AsyncClient) -> None:
    metadata = _metadata()
    drive = metadata.files()
    meta = await guest.get("/openstack/latest/meta_data.json")
    assert meta.headers["content-type"] == "application/json"
    body = meta.json()
    assert body.pop("random_seed") and body["uuid"] == UUID_A
    assert body == {k: v for k, v in metadata.meta_data("latest").items() if k != "random_seed"}
    old = (await guest.get("/openstack/2012-08-10/meta_data.json")).json()
    assert "random_seed" not in old and "project_id" not in old

    network = await guest.get("/openstack/2018-08-27/network_data.json")
    assert network.headers["content-type"] == "application/json"
    assert network.content == drive["openstack/2018-08-27/network_data.json"]
    assert network.json()["networks"][0]["network_id"] == "net-1"
    vendor = await guest.get("/openstack/latest/vendor_data2.json")
    assert vendor.json() == {"static": {}}

    user_data = await guest.get("/openstack/latest/user_data")
    assert user_data.content == USER_DATA
    assert user_data.headers["content-type"].startswith("text/plain")


async def test_without_user_data_there_is_none_to_read_or_list(serve: Serve) -> None:
    proxy = await serve(Directory({"127.0.0.1": _metadata(user_data=None)}))
    async with _client(proxy) as client:
        assert (await client.get("/openstack/latest/user_data")).status_code == 404
        assert (await client.get("/latest/user-data")).status_code == 404
        assert "user_data" not in await _text(client, "/openstack/latest")
        assert await _text(client, "/latest/") == "meta-data/"


async def test_ec2_meta_data_lists_keys_with_a_slash_on_directories(
    guest: httpx.AsyncClient,
) -> None:
    assert await _text(guest, "/latest/") == "meta-data/\nuser-data"
    for path in ("/latest/meta-data/", "/latest/meta-data", "/2009-04-04/meta-data/"):
        assert (await _text(guest, path)).split("\n") == LATEST_EC2_KEYS


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/latest/meta-data/instance-id", "i-0000002a"),
        ("/latest/meta-data/hostname", "web-1.novalocal"),
        ("/latest/meta-data/local-hostname", "web-1.novalocal"),
        ("/latest/meta-data/local-ipv4", "10.0.0.5"),
        ("/latest/meta-data/public-keys/", "0=demo"),
        ("/latest/meta-data/public-keys/0/", "openssh-key"),
        ("/latest/meta-data/public-keys/0/openssh-key", SSH_KEY),
        ("/latest/meta-data/placement/", "availability-zone"),
        ("/latest/meta-data/placement/availability-zone", "zone-a"),
        ("/latest/meta-data/instance-type", "m1.tiny"),
        ("/latest/meta-data/ami-id", "ami-3f0a6d4e"),
        ("/latest/meta-data/ami-launch-index", "0"),
        ("/latest/meta-data/reservation-id", "r-8x1yq2zb"),
        ("/latest/meta-data/security-groups", "default\nweb"),
        ("/latest/meta-data/block-device-mapping/", "ami\nebs0\nroot"),
        ("/latest/meta-data/block-device-mapping/root", "/dev/vda"),
        ("/2009-04-04/meta-data/instance-id", "i-0000002a"),
        ("/ec2/latest/meta-data/instance-id", "i-0000002a"),
        ("/1.0/meta-data/instance-id", "i-0000002a"),
    ],
)
async def test_ec2_keys_guests_read(guest: httpx.AsyncClient, path: str, expected: str) -> None:
    response = await guest.get(path)
    assert response.status_code == 200
    assert response.text == expected
    assert response.headers["content-type"].startswith("text/plain")


async def test_ec2_user_data_is_the_raw_bytes(guest: httpx.AsyncClient) -> None:
    assert (await guest.get("/latest/user-data")).content == USER_DATA
    assert (await guest.get("/2009-04-04/user-data")).content == USER_DATA


async def test_older_ec2_versions_have_only_the_keys_they_knew(guest: httpx.AsyncClient) -> None:
    first = (await _text(guest, "/1.0/meta-data/")).split("\n")
    assert not {"local-hostname", "instance-type", "placement/", "block-device-mapping/"} & set(
        first
    )
    assert "instance-id" in first and "public-keys/" in first
    assert await _text(guest, "/2007-08-29/meta-data/instance-type") == "m1.tiny"
    assert (await guest.get("/2007-08-29/meta-data/placement/")).status_code == 404


async def test_a_guest_without_fixed_ipv4_is_told_the_address_it_came_from(
    serve: Serve,
) -> None:
    metadata = _metadata(network_info=model.NetworkInfo())
    proxy = await serve(Directory({"127.0.0.1": metadata}))
    async with _client(proxy) as client:
        assert await _text(client, "/latest/meta-data/local-ipv4") == "127.0.0.1"


@pytest.mark.parametrize(
    "path",
    [
        "/openstack/2000-01-01/meta_data.json",
        "/openstack/2000-01-01/",
        "/openstack/latest/nothing.json",
        "/openstack/latest/meta_data.json/uuid",
        "/2010-01-01/meta-data/",
        "/latest/meta-data/nothing",
        "/latest/meta-data/instance-id/more",
        "/latest/meta-data/public-keys/1/openssh-key",
        "/latest/something-else",
        "/openstack/latest/password",
    ],
)
async def test_unknown_paths_are_not_found(guest: httpx.AsyncClient, path: str) -> None:
    assert (await guest.get(path)).status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_only_get_and_head_are_allowed(guest: httpx.AsyncClient, method: str) -> None:
    response = await guest.request(method, "/openstack/latest/meta_data.json", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    # The connection goes on serving.
    assert (await guest.get("/latest/meta-data/instance-id")).text == "i-0000002a"


async def test_head_tells_the_length_without_the_body(guest: httpx.AsyncClient) -> None:
    head = await guest.head("/openstack/latest/network_data.json")
    got = await guest.get("/openstack/latest/network_data.json")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(got.content)) != "0"
    assert head.headers["content-type"] == "application/json"


# -- who is asking ------------------------------------------------------------------------


async def test_each_source_address_reads_only_its_own_instance(serve: Serve) -> None:
    directory = Directory({"127.0.0.2": _metadata(UUID_A), "127.0.0.3": _metadata(UUID_B)})
    proxy = await serve(directory)
    forged = {"X-Forwarded-For": "127.0.0.3", "X-Instance-ID": UUID_B, "X-Tenant-ID": "p"}
    async with _client(proxy, "127.0.0.2") as a, _client(proxy, "127.0.0.3") as b:
        own_a = await a.get("/openstack/latest/meta_data.json", headers=forged)
        own_b = await b.get("/openstack/latest/meta_data.json")
        assert own_a.json()["uuid"] == UUID_A
        assert own_b.json()["uuid"] == UUID_B
    assert set(directory.asked) == {"127.0.0.2", "127.0.0.3"}


async def test_an_address_lookup_does_not_know_gets_404_everywhere(serve: Serve) -> None:
    directory = Directory({"127.0.0.2": _metadata()})
    proxy = await serve(directory)
    forged = {"X-Forwarded-For": "127.0.0.2", "X-Instance-ID": UUID_A}
    async with _client(proxy, "127.0.0.4") as stranger:
        for path in ("/", "/openstack", "/openstack/latest/meta_data.json", "/latest/user-data"):
            assert (await stranger.get(path, headers=forged)).status_code == 404
    assert set(directory.asked) == {"127.0.0.4"}


async def test_a_failing_lookup_is_a_500_and_the_service_goes_on(serve: Serve) -> None:
    calls: list[str] = []

    async def flaky(remote_ip: str) -> InstanceMetadata | None:
        calls.append(remote_ip)
        if len(calls) == 1:
            raise RuntimeError("database unavailable")
        return _metadata()

    proxy = await serve(flaky)
    async with _client(proxy) as client:
        assert (await client.get("/latest/meta-data/instance-id")).status_code == 500
        assert (await client.get("/latest/meta-data/instance-id")).text == "i-0000002a"


# -- the connection -----------------------------------------------------------------------


async def _raw(proxy: MetadataProxy, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(request)
        async with asyncio.timeout(5):
            return await reader.read()
    finally:
        writer.close()


async def test_a_malformed_request_gets_400(serve: Serve) -> None:
    proxy = await serve(Directory({"127.0.0.1": _metadata()}))
    answer = await _raw(proxy, b"this is not http\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")


async def test_pipelined_requests_are_answered_in_order(serve: Serve) -> None:
    proxy = await serve(Directory({"127.0.0.1": _metadata()}))
    one = b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n"
    two = b"GET /latest/meta-data/hostname HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = await _raw(proxy, one + two)
    assert answer.count(b"HTTP/1.1 200 ") == 2
    assert answer.index(b"i-0000002a") < answer.index(b"web-1.novalocal")


async def test_stop_closes_open_connections_and_the_listener(serve: Serve) -> None:
    proxy = await serve(Directory({}))
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")  # keep-alive: the connection stays open
        await proxy.stop()
        async with asyncio.timeout(2):
            try:
                assert await reader.read() in (b"", b"404 Not Found\n")
            except ConnectionResetError:
                pass
    finally:
        writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", proxy.port)
    await proxy.stop()  # twice is fine


# -- in network namespaces ----------------------------------------------------------------

NET_IP = "10.0.0.2"
WGET_SECONDS = 10
GUEST_IPS = {"a": "10.0.0.10", "b": "10.0.0.11", "stranger": "10.0.0.12"}


@dataclass
class Lab:
    net: str
    guests: dict[str, str]
    """Role (``a``, ``b``, ``stranger``) to namespace."""


def _port_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A bridge in a host namespace; the net namespace and three guests plugged into it."""
    tag = secrets.token_hex(4)
    host = f"mdh-{tag}"
    lab = Lab(net=f"mdn-{tag}", guests={role: f"mdg{role[0]}-{tag}" for role in GUEST_IPS})
    names = [host, lab.net, *lab.guests.values()]
    try:
        linux_net.ensure_namespace(host)
        linux_net.ensure_bridge("br0", 1500, netns=host)
        ports = [(lab.net, NET_IP)] + [(lab.guests[r], ip) for r, ip in GUEST_IPS.items()]
        for number, (namespace, ip) in enumerate(ports):
            mac = f"fa:16:3e:00:00:{number + 1:02x}"
            linux_net.plug_namespace_port(
                "br0", _port_id(), namespace, mac, [f"{ip}/24"], 1500, netns=host
            )
        for namespace in lab.guests.values():
            linux_net.add_route(namespace, f"{METADATA_ADDRESS}/32", NET_IP)
        yield lab
    finally:
        for name in names:
            linux_net.delete_namespace(name)


def _lab_directory() -> Directory:
    return Directory(
        {GUEST_IPS["a"]: _metadata(UUID_A, GUEST_IPS["a"]), GUEST_IPS["b"]: _metadata(UUID_B)}
    )


async def _wget(namespace: str, path: str, *headers: str) -> tuple[int, str, str]:
    """busybox wget in ``namespace``: exit code, body, error output.

    Debian's busybox 1.35 is built without wget's ``-T`` and crashes on it (SIGSEGV),
    so the time limit is kept here.
    """
    extra = [arg for header in headers for arg in ("--header", header)]
    url = f"http://{METADATA_ADDRESS}{path}"
    process = await asyncio.create_subprocess_exec(
        *("ip", "netns", "exec", namespace, "busybox", "wget", "-q", *extra, "-O", "-", url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(WGET_SECONDS):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _thread_namespace() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def _lo_addresses(namespace: str | None) -> list[str]:
    where = ["-n", namespace] if namespace else []
    result = subprocess.run(
        ["ip", "-j", *where, "addr", "show", "dev", "lo"], capture_output=True, check=True
    )
    (lo,) = json.loads(result.stdout)
    assert "UP" in lo["flags"]
    return [f"{a['local']}/{a['prefixlen']}" for a in lo["addr_info"] if a["family"] == "inet"]


async def test_guests_read_their_own_metadata_from_the_net_namespace(
    lab: Lab, serve: Serve
) -> None:
    await serve(_lab_directory(), lab.net)
    path = "/openstack/latest/meta_data.json"
    for role, expected in (("a", UUID_A), ("b", UUID_B)):
        code, body, err = await _wget(lab.guests[role], path)
        assert code == 0, err
        assert json.loads(body)["uuid"] == expected
    code, body, _ = await _wget(lab.guests["a"], "/latest/meta-data/local-ipv4")
    assert (code, body) == (0, GUEST_IPS["a"])
    code, body, err = await _wget(lab.guests["stranger"], path)
    assert code != 0 and "404" in err and body == ""


async def test_forged_headers_do_not_make_a_guest_someone_else(lab: Lab, serve: Serve) -> None:
    await serve(_lab_directory(), lab.net)
    path = "/openstack/latest/meta_data.json"
    as_b = (f"X-Forwarded-For: {GUEST_IPS['b']}", f"X-Instance-ID: {UUID_B}")
    code, body, err = await _wget(lab.guests["a"], path, *as_b)
    assert code == 0, err
    assert json.loads(body)["uuid"] == UUID_A
    as_a = (f"X-Forwarded-For: {GUEST_IPS['a']}", f"X-Instance-ID: {UUID_A}")
    code, body, err = await _wget(lab.guests["stranger"], path, *as_a)
    assert code != 0 and "404" in err and body == ""


async def test_start_plumbs_only_the_net_namespace_and_stop_leaves_the_address(
    lab: Lab, serve: Serve
) -> None:
    loop_thread = _thread_namespace()
    ours_before = _lo_addresses(None)
    proxy = await serve(_lab_directory(), lab.net)
    assert _thread_namespace() == loop_thread
    assert _lo_addresses(None) == ours_before
    assert _lo_addresses(lab.net).count(f"{METADATA_ADDRESS}/32") == 1

    await proxy.stop()
    assert _lo_addresses(lab.net).count(f"{METADATA_ADDRESS}/32") == 1
    code, _, err = await _wget(lab.guests["a"], "/latest/meta-data/instance-id")
    assert code != 0 and "refused" in err

    again = await serve(_lab_directory(), lab.net)  # the address is there already: no error
    assert _lo_addresses(lab.net).count(f"{METADATA_ADDRESS}/32") == 1
    code, body, err = await _wget(lab.guests["a"], "/latest/meta-data/instance-id")
    assert (code, body) == (0, "i-0000002a"), err
    assert again.port == 80


async def test_start_in_a_missing_namespace_fails_and_makes_none(serve: Serve) -> None:
    name = f"mdx-{secrets.token_hex(4)}"
    try:
        with pytest.raises(MetadataProxyError, match=name):
            await serve(Directory({}), name)
        assert not linux_net.namespace_exists(name)
    finally:
        linux_net.delete_namespace(name)


async def test_replies_on_a_kept_alive_connection_do_not_stall(guest: httpx.AsyncClient) -> None:
    """Regression: replies sent in pieces on a socket without TCP_NODELAY waited ~40 ms each."""
    started = asyncio.get_running_loop().time()
    for _ in range(20):
        assert (await guest.get("/latest/meta-data/instance-id")).status_code == 200
    assert asyncio.get_running_loop().time() - started < 0.5
