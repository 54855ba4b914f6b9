"""Which libvirt a compute host talks to, and where the embedded driver's root lives."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cumulo.config import Settings
from cumulo.virt.libvirt import host


@pytest.fixture
def system_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "libvirt-sock"
    monkeypatch.setattr(host, "SYSTEM_SOCKET", path)
    return path


def _root(uri: str) -> Path:
    assert uri.startswith("qemu:///embed?root=")
    return Path(uri.partition("root=")[2])


def test_without_libvirtd_the_embedded_driver_under_the_state_dir(
    tmp_path: Path, system_socket: Path
) -> None:
    uri = host.connection_uri(Settings(state_dir=tmp_path / "state"))
    assert _root(uri).resolve() == (tmp_path / "state" / "libvirt").resolve()


def test_a_stale_socket_file_is_not_a_libvirtd(tmp_path: Path, system_socket: Path) -> None:
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(system_socket))
    assert system_socket.exists()
    assert host.connection_uri(Settings(state_dir=tmp_path)).startswith("qemu:///embed")


def test_a_listening_libvirtd_is_used(tmp_path: Path, system_socket: Path) -> None:
    with socket.socket(socket.AF_UNIX) as daemon:
        daemon.bind(str(system_socket))
        daemon.listen()
        assert host.connection_uri(Settings(state_dir=tmp_path)) == "qemu:///system"


def test_a_deep_state_dir_gets_a_short_root(tmp_path: Path, system_socket: Path) -> None:
    """A guest's monitor socket lives under the root; UNIX socket paths hold 107 bytes."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    root = _root(host.connection_uri(Settings(state_dir=deep)))
    assert len(str(root)) < 50
    assert root.resolve() == (deep / "libvirt").resolve()
    assert _root(host.connection_uri(Settings(state_dir=deep))) == root


def test_a_configured_uri_wins(tmp_path: Path, system_socket: Path) -> None:
    settings = Settings(state_dir=tmp_path, libvirt={"connection_uri": "qemu+tcp://h/system"})  # type: ignore[arg-type]
    assert host.connection_uri(settings) == "qemu+tcp://h/system"
