"""Image upload and download throughput through the real HTTP server, against the disk.

Starts ``cumulo up --background`` on a scratch state directory (so the image
store is on the disk that holds ``--dir``), creates a raw image and uploads
``--size-mib`` of data with Glance's ``PUT /v2/images/{id}/file``
(``application/octet-stream``, with ``Content-Length``), then downloads it.
The limit it is compared with is ``dd if=/dev/zero bs=1M conv=fdatasync`` of
the same size into the same directory. Prints the figures, the ratios and one
``CUMULO_BENCH_JSON`` line.

    .venv/bin/python bench/image_upload_bench.py [--size-mib 1024] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import start_cloud, stop_cloud

from cumulo.clouds import password_auth_body

MIB = 1 << 20
CHUNK = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def disk_limit(directory: Path, size_mib: int) -> float:
    """MB/s of ``dd`` writing ``size_mib`` MiB into ``directory`` and syncing it."""
    target = directory / "dd.bin"
    began = time.perf_counter()
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={size_mib}", "conv=fdatasync"],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - began
    target.unlink()
    return size_mib * MIB / seconds / 1e6


async def payload(block: bytes, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield block


def md5_of(block: bytes, count: int) -> str:
    """The md5 of ``block`` repeated, computed before timing so the client does not compete."""
    md5 = hashlib.md5(usedforsecurity=False)
    for _ in range(count):
        md5.update(block)
    return md5.hexdigest()


async def token(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
    resp = await client.post("/identity/v3/auth/tokens", json=password_auth_body(auth))
    resp.raise_for_status()
    return resp.headers["X-Subject-Token"]


async def transfer(url: str, auth: dict[str, str], size_mib: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        headers = {"X-Auth-Token": await token(client, auth)}
        created = await client.post(
            "/image/v2/images",
            headers=headers,
            json={"name": "bench", "disk_format": "raw", "container_format": "bare"},
        )
        created.raise_for_status()
        file_url = f"/image/v2/images/{created.json()['id']}/file"
        block = os.urandom(CHUNK)
        expected = md5_of(block, size_mib)
        upload_headers = {
            **headers,
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size_mib * MIB),
        }
        began = time.perf_counter()
        resp = await client.put(file_url, content=payload(block, size_mib), headers=upload_headers)
        upload_s = time.perf_counter() - began
        resp.raise_for_status()
        received = 0
        began = time.perf_counter()
        async with client.stream("GET", file_url, headers=headers) as stream:
            stream.raise_for_status()
            checksum = stream.headers["content-md5"]
            async for chunk in stream.aiter_raw(CHUNK):
                received += len(chunk)
        download_s = time.perf_counter() - began
        assert received == size_mib * MIB and checksum == expected
        await client.delete(f"/image/v2/images/{created.json()['id']}", headers=headers)
    return {
        "upload": size_mib * MIB / upload_s / 1e6,
        "download": size_mib * MIB / download_s / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where the scratch state directory (and image store) goes",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cumulo-image-bench-", dir=args.dir) as scratch:
        state_dir = Path(scratch)
        disk = disk_limit(state_dir, args.size_mib)
        port = free_port()
        start_cloud(state_dir, port)
        try:
            auth = yaml.safe_load((state_dir / "clouds.yaml").read_text())["clouds"]["cumulo"]
            rates = asyncio.run(transfer(f"http://127.0.0.1:{port}", auth["auth"], args.size_mib))
        finally:
            stop_cloud(state_dir)
    print(f"{'what':<34}{'MB/s':>10}{'of disk':>10}")
    print(f"{'disk (dd conv=fdatasync)':<34}{disk:>10.1f}{1:>10.2f}")
    for name, rate in rates.items():
        print(f"{'image ' + name + ' (HTTP, 1 stream)':<34}{rate:>10.1f}{rate / disk:>10.2f}")
    print(
        "CUMULO_BENCH_JSON "
        + json.dumps(
            {
                "bench": "image_upload",
                "size_mib": args.size_mib,
                "disk_mb_s": round(disk, 1),
                **{f"{k}_mb_s": round(v, 1) for k, v in rates.items()},
                "upload_ratio": round(rates["upload"] / disk, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
