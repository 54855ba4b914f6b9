"""``cumulo demo`` (what ``make up`` runs): from nothing to a real guest a user can see.

Each step reuses what an earlier run left (the built guest image, the running
cloud, the image, network, key pair and server of the demo user), so running it
again is quick and changes nothing that works. The steps talk to the cloud only
through its public APIs, as the demo user of ``clouds.yaml``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from rich.console import Console

from cumulo.clouds import DEMO_CLOUD, password_auth_body
from cumulo.config import Settings
from cumulo.exception import CumuloError

IMAGE_NAME = "cumulo-guest"
NETWORK_NAME = "demo-net"
SUBNET_CIDR = "10.0.42.0/24"
KEY_NAME = "demo-key"
SERVER_NAME = "demo-1"
FLAVOR = "c1.nano"
ACTIVE_TIMEOUT = 180.0
MARKER_TIMEOUT = 120.0
COMPUTE_VERSION = {"OpenStack-API-Version": "compute 2.100"}


class DemoFailed(CumuloError):
    message = "%(step)s: %(reason)s"


@dataclass
class DemoCloud:
    """The demo user's view of a running cloud, over HTTP."""

    settings: Settings
    http: httpx.Client = field(init=False)
    token: str = ""
    endpoints: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=60)

    def login(self) -> None:
        clouds = yaml.safe_load((self.settings.state_dir / "clouds.yaml").read_text())
        auth = clouds["clouds"][DEMO_CLOUD]["auth"]
        body = password_auth_body(auth)
        r = self.http.post(f"{auth['auth_url']}/v3/auth/tokens", json=body)
        r.raise_for_status()
        self.token = r.headers["X-Subject-Token"]
        for service in r.json()["token"]["catalog"]:
            for endpoint in service["endpoints"]:
                if endpoint["interface"] == "public":
                    self.endpoints[service["type"]] = endpoint["url"].rstrip("/")

    def request(self, method: str, service: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, **COMPUTE_VERSION, **kwargs.pop("headers", {})}
        r = self.http.request(method, self.endpoints[service] + path, headers=headers, **kwargs)
        if r.status_code >= 400:
            raise DemoFailed(step=f"{method} {path}", reason=f"{r.status_code} {r.text[:300]}")
        return r


def run_demo(settings: Settings, start_cloud: Callable[[], None]) -> None:
    console = Console(highlight=False, width=max(100, Console().width))
    started = time.monotonic()
    state: dict[str, Any] = {}

    def step(title: str, work: Callable[[], str]) -> None:
        begin = time.monotonic()
        with console.status(f"[bold]{title}…"):
            detail = work()
        console.print(f"[green]✓[/] {title:<34} [dim]{time.monotonic() - begin:6.1f}s[/]  {detail}")

    from cumulo.virt.guest_image import build as build_guest_image

    def image_build() -> str:
        guest = build_guest_image(
            settings.state_dir / "guest-image", Path.home() / ".cache" / "cumulo" / "guest-image"
        )
        state["guest"] = guest
        return f"{guest.disk.name} ({guest.disk.stat().st_size // 1024 // 1024} MiB)"

    cloud = DemoCloud(settings)

    def cloud_up() -> str:
        start_cloud()
        cloud.login()
        return settings.public_url

    step("guest image", image_build)
    step("cloud (libvirt driver)", cloud_up)
    step("image uploaded", lambda: _image(cloud, state))
    step("network and subnet", lambda: _network(cloud, state))
    step("key pair", lambda: _key_pair(cloud, settings))
    step("server created", lambda: _server(cloud, state))
    step("server ACTIVE", lambda: _wait_active(cloud, state))
    step("guest ready (console marker)", lambda: _wait_marker(cloud, state, state["guest"].marker))
    console.print(f"\n[bold]{SERVER_NAME}[/] is up in {time.monotonic() - started:.1f}s:")
    console.print(f"  id       {state['server']}\n  address  {state['address']}")
    console.print("  console:")
    for line in state["console"][-8:]:
        console.print(f"    [dim]{line}[/]")
    clouds = (settings.state_dir / "clouds.yaml").resolve()
    console.print(
        f"\nUse it with the openstack CLI:\n  export OS_CLIENT_CONFIG_FILE={clouds}\n"
        f"  openstack --os-cloud {DEMO_CLOUD} server list\n"
        f"  openstack --os-cloud {DEMO_CLOUD} console log show {SERVER_NAME}\n"
        f"Stop the cloud and its guests with `make down`."
    )


def _image(cloud: DemoCloud, state: dict[str, Any]) -> str:
    found = cloud.request("GET", "image", f"/v2/images?name={IMAGE_NAME}").json()["images"]
    active = [i for i in found if i["status"] == "active"]
    if active:
        state["image"] = active[0]["id"]
        return f"{IMAGE_NAME} (already there)"
    disk: Path = state["guest"].disk
    body = {"name": IMAGE_NAME, "disk_format": "qcow2", "container_format": "bare"}
    state["image"] = cloud.request("POST", "image", "/v2/images", json=body).json()["id"]
    with disk.open("rb") as data:
        cloud.request(
            "PUT",
            "image",
            f"/v2/images/{state['image']}/file",
            content=data.read(),
            headers={"Content-Type": "application/octet-stream"},
        )
    return f"{IMAGE_NAME}, {disk.stat().st_size // 1024 // 1024} MiB qcow2"


def _network(cloud: DemoCloud, state: dict[str, Any]) -> str:
    nets = cloud.request("GET", "network", f"/v2.0/networks?name={NETWORK_NAME}").json()
    if nets["networks"]:
        state["network"] = nets["networks"][0]["id"]
        return f"{NETWORK_NAME} (already there)"
    body = {"network": {"name": NETWORK_NAME}}
    net = cloud.request("POST", "network", "/v2.0/networks", json=body)
    state["network"] = net.json()["network"]["id"]
    subnet = {"network_id": state["network"], "cidr": SUBNET_CIDR, "ip_version": 4}
    cloud.request("POST", "network", "/v2.0/subnets", json={"subnet": subnet})
    return f"{NETWORK_NAME} {SUBNET_CIDR}"


def _key_pair(cloud: DemoCloud, settings: Settings) -> str:
    """An ed25519 key made here (the API makes none since 2.92): the private half in the
    state directory, the public half registered as ``demo-key``."""
    found = cloud.request("GET", "compute", "/os-keypairs").json()["keypairs"]
    if any(k["keypair"]["name"] == KEY_NAME for k in found):
        return f"{KEY_NAME} (already there)"
    key = ed25519.Ed25519PrivateKey.generate()
    private = settings.state_dir / f"{KEY_NAME}.pem"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
        )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    body = {"keypair": {"name": KEY_NAME, "public_key": public.decode()}}
    cloud.request("POST", "compute", "/os-keypairs", json=body)
    return f"{KEY_NAME}, private key {private.name}"


def _server(cloud: DemoCloud, state: dict[str, Any]) -> str:
    servers = cloud.request("GET", "compute", f"/servers/detail?name=^{SERVER_NAME}$").json()
    usable = [s for s in servers["servers"] if s["status"] in ("ACTIVE", "BUILD", "SHUTOFF")]
    if usable:
        state["server"] = usable[0]["id"]
        if usable[0]["status"] != "SHUTOFF":
            return f"{SERVER_NAME} (already there)"
        action = {"os-start": None}
        cloud.request("POST", "compute", f"/servers/{state['server']}/action", json=action)
        return f"{SERVER_NAME} (was stopped: started again)"
    body = {
        "server": {
            "name": SERVER_NAME,
            "imageRef": state["image"],
            "flavorRef": _flavor_id(cloud),
            "networks": [{"uuid": state["network"]}],
            "key_name": KEY_NAME,
        }
    }
    state["server"] = cloud.request("POST", "compute", "/servers", json=body).json()["server"]["id"]
    return f"{SERVER_NAME} on {FLAVOR}"


def _flavor_id(cloud: DemoCloud) -> str:
    flavors = cloud.request("GET", "compute", "/flavors").json()["flavors"]
    return next(f["id"] for f in flavors if f["name"] == FLAVOR)


def _wait_active(cloud: DemoCloud, state: dict[str, Any]) -> str:
    deadline = time.monotonic() + ACTIVE_TIMEOUT
    while time.monotonic() < deadline:
        server = cloud.request("GET", "compute", f"/servers/{state['server']}").json()["server"]
        if server["status"] == "ACTIVE":
            addresses = [a["addr"] for net in server["addresses"].values() for a in net]
            state["address"] = ", ".join(addresses) or "none"
            return state["address"]
        if server["status"] == "ERROR":
            reason = server.get("fault", {}).get("message", "no fault recorded")
            raise DemoFailed(step="server", reason=f"went to ERROR: {reason}")
        time.sleep(0.5)
    raise DemoFailed(step="server", reason=f"not ACTIVE after {ACTIVE_TIMEOUT:.0f}s")


def _wait_marker(cloud: DemoCloud, state: dict[str, Any], marker: str) -> str:
    deadline = time.monotonic() + MARKER_TIMEOUT
    body = {"os-getConsoleOutput": {"length": 200}}
    while time.monotonic() < deadline:
        output = cloud.request(
            "POST", "compute", f"/servers/{state['server']}/action", json=body
        ).json()["output"]
        lines = [line.rstrip("\r") for line in output.splitlines()]
        if any(marker in line for line in lines):
            state["console"] = [line for line in lines if "cumulo-guest" in line or marker in line]
            return marker
        time.sleep(1)
    raise DemoFailed(step="console", reason=f"no {marker} after {MARKER_TIMEOUT:.0f}s")
