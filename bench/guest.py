"""Real guests: what cumulo's pipeline adds to booting the guest image with bare QEMU.

For each of ``--runs`` boots of cumulo's own guest image (``cumulo image build``) on
flavor c1.nano (128 MiB, 1 vCPU), measured in the same run:

- **bare QEMU**: ``qemu-system-x86_64`` started by hand with the options the libvirt
  driver gives the domain (TCG, tb-cache, a qcow2 overlay on the raw base, the config
  drive as an IDE cdrom, a virtio NIC on a tap, serial to a file): start → the
  ``CUMULO-GUEST-READY`` marker on the serial console;
- **cumulo**: the embedded cloud in this process with the libvirt driver (libvirt's
  embedded QEMU driver, no daemon): ``POST /servers`` → ACTIVE (``instance.create.end``)
  and ``POST /servers`` → the marker in the guest's ``console.log``;

then the overhead ratio (cumulo marker / bare marker; goal ≤ 1.2), the RSS of one
guest's QEMU process, and how many such guests this machine's free memory holds.

    .venv/bin/python bench/guest.py [--runs 3]

Prints a table and one ``CUMULO_BENCH_JSON {...}`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuid_lib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from boot import Load, embedded_cloud  # noqa: E402

from cumulo.network.model import NetworkInfo  # noqa: E402
from cumulo.virt.configdrive import make_config_drive  # noqa: E402
from cumulo.virt.guest_image import GuestImage, build  # noqa: E402
from cumulo.virt.instance_metadata import InstanceMetadata, MetadataSource  # noqa: E402

MEMORY_MB = 128
TB_CACHE_MB = 32
MARKER_TIMEOUT = 180.0


def _wait_for(path: Path, marker: str, start: float, timeout: float = MARKER_TIMEOUT) -> float:
    deadline = start + timeout
    needle = marker.encode()
    while time.perf_counter() < deadline:
        if path.exists() and needle in path.read_bytes():
            return time.perf_counter() - start
        time.sleep(0.02)
    raise TimeoutError(f"no {marker} in {path} after {timeout:.0f}s")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- bare QEMU ---------------------------------------------------------------------------


def bare_boot(guest: GuestImage, scratch: Path, index: int) -> dict[str, float]:
    """One boot with the domain's options, by hand; seconds to the marker and the RSS."""
    run = scratch / f"bare-{index}"
    run.mkdir()
    base = run / "base.raw"
    subprocess.run(
        ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(guest.disk), str(base)], check=True
    )
    overlay = run / "disk"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base),
         str(overlay), "1G"],
        check=True,
    )  # fmt: skip
    uuid = str(uuid_lib.uuid4())
    source = MetadataSource(
        uuid=uuid, name=f"bare-{index}", hostname=f"bare-{index}", project_id="bench",
        availability_zone="nova", network_info=NetworkInfo(),
    )  # fmt: skip
    drive = run / "disk.config"
    make_config_drive(drive, InstanceMetadata(source).files())
    tap = f"tapbench{index}"
    subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], check=True)
    console = run / "console.log"
    command = [
        "qemu-system-x86_64", "-machine", "pc", "-accel", f"tcg,tb-size={TB_CACHE_MB}",
        "-m", str(MEMORY_MB), "-smp", "1", "-nodefaults", "-display", "none",
        "-smbios", f"type=1,manufacturer=cumulo,product=cumulo,serial={uuid},uuid={uuid}",
        "-uuid", uuid,
        "-drive", f"file={overlay},if=virtio,format=qcow2",
        "-drive", f"file={drive},if=ide,index=3,media=cdrom,readonly=on,format=raw",
        "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
        "-device", "virtio-net-pci,netdev=n0,mac=fa:16:3e:00:00:99",
        "-serial", f"file:{console}", "-no-reboot",
    ]  # fmt: skip
    start = time.perf_counter()
    qemu = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seconds = _wait_for(console, guest.marker, start)
        rss = _rss_mb(qemu.pid)
    finally:
        qemu.kill()
        qemu.wait()
        subprocess.run(["ip", "link", "del", tap], check=False)
    return {"marker_s": seconds, "rss_mb": rss}


# --- cumulo --------------------------------------------------------------------------------


async def cumulo_boots(guest: GuestImage, scratch: Path, runs: int) -> list[dict[str, float]]:
    async with embedded_cloud(scratch / "cloud", driver="libvirt", hosts=["compute-1"]) as load:
        server = await _prepare(load.http, load.headers, guest)
        return [await _boot_one(load, server, index, guest.marker) for index in range(runs)]


async def _prepare(http: Any, headers: dict[str, str], guest: GuestImage) -> dict[str, Any]:
    r = await http.post(
        "/image/v2/images",
        headers=headers,
        json={"name": "cumulo-guest", "disk_format": "qcow2", "container_format": "bare"},
    )
    image = r.json()["id"]
    await http.put(
        f"/image/v2/images/{image}/file",
        headers={**headers, "Content-Type": "application/octet-stream"},
        content=guest.disk.read_bytes(),
    )
    r = await http.post(
        "/networking/v2.0/networks", headers=headers, json={"network": {"name": "g"}}
    )
    network = r.json()["network"]["id"]
    await http.post(
        "/networking/v2.0/subnets",
        headers=headers,
        json={"subnet": {"network_id": network, "cidr": "10.9.0.0/24", "ip_version": 4}},
    )
    return {"imageRef": image, "flavorRef": "42", "networks": [{"uuid": network}]}


async def _boot_one(
    load: Load, server: dict[str, Any], index: int, marker: str
) -> dict[str, float]:
    assert load.settings is not None
    body = {"server": {"name": f"guest-{index}", **server}}
    start = time.perf_counter()
    r = await load.http.post("/compute/v2.1/servers", headers=load.headers, json=body)
    r.raise_for_status()
    uuid = r.json()["server"]["id"]
    built = await asyncio.wait_for(load.watcher.future(uuid, "built"), MARKER_TIMEOUT)
    shown = (await load.http.get(f"/compute/v2.1/servers/{uuid}", headers=load.headers)).json()
    if shown["server"]["status"] != "ACTIVE":
        raise RuntimeError(f"server {uuid} is {shown['server']['status']}: {shown['server']}")
    console = load.settings.instances_path / uuid / "console.log"
    seconds = await asyncio.to_thread(_wait_for, console, marker, start)
    run_dir = load.settings.state_dir / "libvirt" / "run" / "qemu"
    pid_file = run_dir / f"instance-{uuid}.pid"
    rss = _rss_mb(int(pid_file.read_text().strip())) if pid_file.exists() else 0.0
    await load.delete(uuid)
    return {"active_s": built - start, "marker_s": seconds, "rss_mb": rss}


# --- report --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    guest = build(Path.home() / ".cache" / "cumulo" / "bench-guest-image",
                  Path.home() / ".cache" / "cumulo" / "guest-image")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cumulo-guest-bench-") as tmp:
        scratch = Path(tmp)
        bare = [bare_boot(guest, scratch, i) for i in range(args.runs)]
        ours = asyncio.run(cumulo_boots(guest, scratch, args.runs))
    bare_marker = statistics.median(b["marker_s"] for b in bare)
    our_marker = statistics.median(o["marker_s"] for o in ours)
    our_active = statistics.median(o["active_s"] for o in ours)
    rss = statistics.median(o["rss_mb"] for o in ours if o["rss_mb"]) if ours else 0.0
    capacity = int(_mem_available_mb() // rss) if rss else 0
    figures = {
        "runs": args.runs,
        "bare_qemu_marker_s": round(bare_marker, 2),
        "cumulo_post_active_s": round(our_active, 2),
        "cumulo_post_marker_s": round(our_marker, 2),
        "overhead_ratio": round(our_marker / bare_marker, 2),
        "guest_rss_mb": round(rss, 1),
        "bare_rss_mb": round(statistics.median(b["rss_mb"] for b in bare), 1),
        "c1_nano_guests_by_memory": capacity,
    }
    print(f"guest image: {guest.disk} ({guest.disk.stat().st_size / 2**20:.1f} MiB), TCG")
    print(f"                     median of {args.runs}   runs")

    def runs(rows: list[dict[str, float]], key: str) -> list[float]:
        return [round(row[key], 2) for row in rows]

    print(f"  bare QEMU → marker        {bare_marker:6.2f} s   {runs(bare, 'marker_s')}")
    print(f"  cumulo POST → ACTIVE      {our_active:6.2f} s   {runs(ours, 'active_s')}")
    print(f"  cumulo POST → marker      {our_marker:6.2f} s   {runs(ours, 'marker_s')}")
    print(f"  overhead (marker ratio)   {our_marker / bare_marker:6.2f}x  (goal ≤ 1.2x)")
    print(f"  RSS per c1.nano guest     {rss:6.1f} MiB; this machine's free memory holds "
          f"~{capacity} such guests (booting is CPU-bound: ≤ 4 at once here)")  # fmt: skip
    print("CUMULO_BENCH_JSON " + json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
