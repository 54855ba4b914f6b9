"""The guest image builder: what its manifest says, sizes, checksums, reuse and rebuild.

The image is the machine-wide test image (``tests.guest_image``), built once;
tests that rebuild work on a copy in their own directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cumulo.virt.guest_image import GuestImage, GuestImageError, build
from cumulo.virt.guest_image import manifest as mf
from cumulo.virt.guest_image.builder import MANIFEST, SIZE_LIMIT, recipe_digest
from cumulo.virt.guest_image.initramfs import data_file
from tests.guest_image import built_guest_image, guest_image_dir

PACKAGES = guest_image_dir() / "packages"


@pytest.fixture(scope="module")
def image() -> GuestImage:
    return built_guest_image()


def installed_version(package: str) -> str:
    return subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True
    ).stdout


def copy_image(image: GuestImage, target: Path) -> Path:
    target.mkdir()
    for name in [*image.manifest.files, MANIFEST]:
        shutil.copy2(image.directory / name, target / name)
    return target


def test_manifest_names_what_the_image_is_made_of(image: GuestImage) -> None:
    on_disk = json.loads((image.directory / MANIFEST).read_text())
    assert on_disk["format_version"] == mf.FORMAT_VERSION
    assert on_disk["marker"] == image.marker == "CUMULO-GUEST-READY"
    assert on_disk["cmdline"] == image.cmdline
    assert "console=ttyS0" in image.cmdline.split()
    kernel = on_disk["kernel"]
    assert kernel["package"].startswith("linux-image-6.1.0-")
    assert kernel["package"] == f"linux-image-{kernel['release']}"
    assert kernel["version"].startswith("6.1.")
    assert on_disk["busybox"] == {
        "package": "busybox-static",
        "version": installed_version("busybox-static"),
    }
    assert on_disk["recipe"] == recipe_digest()
    assert {
        "virtio_pci",
        "virtio_blk",
        "virtio_net",
        "ata_piix",
        "sr_mod",
        "isofs",
        "button",
    } <= set(on_disk["modules"])
    assert set(on_disk["files"]) == {"cumulo-guest.qcow2", "vmlinuz", "initrd.img"}


def test_disk_and_kernel_form_stay_under_32_mib(image: GuestImage) -> None:
    assert image.disk.stat().st_size < SIZE_LIMIT == 32 << 20
    assert image.kernel.stat().st_size + image.ramdisk.stat().st_size < SIZE_LIMIT
    assert image.manifest.disk_virtual_size < SIZE_LIMIT


def test_disk_is_a_qcow2_image(image: GuestImage) -> None:
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(image.disk)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert info["format"] == "qcow2"
    assert "backing-filename" not in info
    assert info["virtual-size"] == image.manifest.disk_virtual_size


def test_manifest_checksums_match_the_files(image: GuestImage) -> None:
    for name, info in image.manifest.files.items():
        path = image.directory / name
        assert path.stat().st_size == info.size
        assert mf.sha256(path) == info.sha256


def test_rerun_reuses_the_image_without_rebuilding(image: GuestImage, tmp_path: Path) -> None:
    output = copy_image(image, tmp_path / "image")
    inodes = {name: (output / name).stat().st_ino for name in image.manifest.files}
    lines: list[str] = []

    started = time.monotonic()
    again = build(output, tmp_path / "no-packages", progress=lines.append)

    assert time.monotonic() - started < 1.0
    assert again.manifest == image.manifest
    assert {name: (output / name).stat().st_ino for name in inodes} == inodes
    assert lines and lines[0].startswith("reusing")
    assert not (tmp_path / "no-packages").exists()


def test_a_damaged_file_is_rebuilt(image: GuestImage, tmp_path: Path) -> None:
    output = copy_image(image, tmp_path / "image")
    with (output / "initrd.img").open("r+b") as fh:
        fh.write(b"\0" * 16)

    rebuilt = build(output, PACKAGES)

    assert rebuilt.manifest.intact(output)
    assert rebuilt.manifest.files["initrd.img"] == image.manifest.files["initrd.img"]


def test_force_rebuilds_and_replaces_every_file(image: GuestImage, tmp_path: Path) -> None:
    output = copy_image(image, tmp_path / "image")
    inodes = {name: (output / name).stat().st_ino for name in image.manifest.files}
    lines: list[str] = []

    rebuilt = build(output, PACKAGES, force=True, progress=lines.append)

    assert all((output / name).stat().st_ino != inode for name, inode in inodes.items())
    assert rebuilt.manifest.intact(output)
    assert rebuilt.manifest.recipe == image.manifest.recipe
    assert any("unpack" in line for line in lines)
    assert [p.name for p in output.iterdir() if p.name.startswith(".build-")] == []


def test_a_failed_build_keeps_the_old_image_and_leaves_no_work_files(
    image: GuestImage, tmp_path: Path
) -> None:
    output = copy_image(image, tmp_path / "image")
    not_a_directory = tmp_path / "cache-is-a-file"
    not_a_directory.write_text("")

    with pytest.raises(GuestImageError):
        build(output, not_a_directory, force=True)

    assert sorted(p.name for p in output.iterdir()) == sorted(
        [*image.manifest.files, MANIFEST, ".lock"]
    )
    assert build(output, PACKAGES).manifest == image.manifest


def flatten(json_text: str, tmp_path: Path) -> list[list[str]]:
    """Run the guest's JSON flattener with the host's busybox awk, as the guest does."""
    script = tmp_path / "json.awk"
    script.write_bytes(data_file("json.awk"))
    document = tmp_path / "meta_data.json"
    document.write_text(json_text)
    done = subprocess.run(
        ["busybox", "awk", "-f", str(script), str(document)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split("\t") for line in done.stdout.splitlines()]


def test_guest_reads_top_level_values_of_pretty_printed_metadata(tmp_path: Path) -> None:
    meta = {
        "keys": [{"name": "not-the-instance", "data": "ssh-ed25519 AAAA a@b"}],
        "uuid": "0f6f9f4c-7d1e-4a8e-9a35-3f1e8d7b0c11",
        "name": 'web "one"',
        "hostname": "web-one",
        "public_keys": {"a": "ssh-ed25519 AAAA a@b"},
        "launch_index": 0,
        "meta": {},
    }

    rows = flatten(json.dumps(meta, indent=4), tmp_path)

    assert ["uuid", meta["uuid"]] in rows
    assert ["name", 'web "one"'] in rows
    assert ["hostname", "web-one"] in rows
    assert ["public_keys/a", "ssh-ed25519 AAAA a@b"] in rows
    assert ["keys/0/name", "not-the-instance"] in rows
    assert ["launch_index", "0"] in rows
