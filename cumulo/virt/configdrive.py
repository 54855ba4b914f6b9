"""The config drive: an ISO 9660 volume labelled ``config-2``, as Nova's ``ConfigDriveBuilder``.

Nova runs ``genisoimage -l -allow-lowercase -allow-multidot -ldots -J -r -V config-2``;
this writes the same kind of volume in Python with pycdlib. Every name is stored
as it is (``openstack/2016-10-06/vendor_data2.json``) in all three directory
trees a reader may use: plain ISO 9660 (interchange level 4 allows lower case,
dashes and long names), Rock Ridge (Linux) and Joliet (Windows, cloudbase-init).
Files are read-only (0444) and directories 0555 under Rock Ridge, as ``-r`` makes them.

Building the volume is blocking work: a driver runs ``make_config_drive`` in a thread.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from cumulo import __version__
from cumulo.virt.errors import VirtError

VOLUME_LABEL = "config-2"
PUBLISHER = f"cumulo {__version__}"
JOLIET_NAME_MAX = 64
"""Characters a Joliet file or directory name may have."""

_FILE_MODE = 0o100444
_DIRECTORY_MODE = 0o040555

Namespace = Literal["rock_ridge", "joliet", "iso9660"]
_PATH_KEYWORD: dict[Namespace, str] = {
    "rock_ridge": "rr_path",
    "joliet": "joliet_path",
    "iso9660": "iso_path",
}


class ConfigDriveError(VirtError):
    message = "Could not write the config drive %(path)s: %(reason)s"


@dataclass(frozen=True)
class ConfigDrive:
    """A config drive as a reader finds it: its volume label and its files."""

    label: str
    files: dict[str, bytes]


def make_config_drive(path: Path, files: Mapping[str, bytes], *, mode: int = 0o644) -> None:
    """Write ``files`` (path on the drive → content) as a config drive volume at ``path``.

    The volume is written to a temporary file next to ``path`` and renamed over
    it, so ``path`` is either the old file or the whole new volume, never half
    of one. Raises ``ValueError`` for a path the volume cannot hold, and
    ``ConfigDriveError`` when writing fails.
    """
    directories = _directories(files)
    iso = pycdlib.PyCdlib()
    try:
        iso.new(
            interchange_level=4,
            joliet=3,
            rock_ridge="1.09",
            vol_ident=VOLUME_LABEL,
            pub_ident_str=PUBLISHER,
        )
        for directory in directories:
            iso.add_directory(
                f"/{directory}",
                rr_name=PurePosixPath(directory).name,
                joliet_path=f"/{directory}",
                file_mode=_DIRECTORY_MODE,
            )
        for name, content in files.items():
            iso.add_fp(
                io.BytesIO(content),
                len(content),
                f"/{name}",
                rr_name=PurePosixPath(name).name,
                joliet_path=f"/{name}",
                file_mode=_FILE_MODE,
            )
        _write_atomically(iso, path, mode)
    except (OSError, PyCdlibException) as exc:
        raise ConfigDriveError(path=str(path), reason=str(exc)) from exc
    finally:
        iso.close()


def _directories(files: Mapping[str, bytes]) -> list[str]:
    """Every directory the files need, parents first; refuses names a volume cannot hold."""
    directories: set[str] = set()
    for name in files:
        parts = name.split("/")
        bad = [p for p in parts if p in ("", ".", "..") or len(p) > JOLIET_NAME_MAX]
        if bad or name.startswith("/") or ";" in name:
            raise ValueError(
                f"config drive path {name!r} is not a relative path of short names without ';'"
            )
        directories.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    clashes = directories & set(files)
    if clashes:
        raise ValueError(f"config drive paths {sorted(clashes)} are both files and directories")
    return sorted(directories)


def _write_atomically(iso: pycdlib.PyCdlib, path: Path, mode: int) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            iso.write_fp(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def read_config_drive(path: Path, namespace: Namespace = "rock_ridge") -> ConfigDrive:
    """The label and files of the volume at ``path``, by their names in ``namespace``."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        keyword = _PATH_KEYWORD[namespace]
        files: dict[str, bytes] = {}
        for folder, _dirs, names in iso.walk(**{keyword: "/"}):
            for name in names:
                full = f"{folder.rstrip('/')}/{name}"
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, **{keyword: full})
                files[full.lstrip("/")] = out.getvalue()
        label = iso.pvd.volume_identifier.decode().rstrip()
        return ConfigDrive(label=label, files=files)
    finally:
        iso.close()
