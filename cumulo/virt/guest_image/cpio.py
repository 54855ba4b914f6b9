"""A ``newc`` cpio archive, the format the kernel unpacks as its initramfs.

Written here rather than with cpio(1) so that device nodes and ownership need
no root and no files on disk, and so that the archive is the same bytes for
the same tree (entries sorted, every timestamp zero).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One archive member; ``data`` is the file's contents or the symlink's target."""

    path: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


@dataclass
class Tree:
    """The members of an archive by path; parents are added as directories on demand."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def directory(self, path: str, mode: int = 0o755) -> None:
        path = path.strip("/")
        if not path or path in self.entries:
            return
        self.directory(path.rpartition("/")[0])
        self.entries[path] = Entry(path, stat.S_IFDIR | mode)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = path.strip("/")
        self.directory(path.rpartition("/")[0])
        self.entries[path] = Entry(path, stat.S_IFREG | mode, data)

    def symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self.directory(path.rpartition("/")[0])
        self.entries[path] = Entry(path, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        path = path.strip("/")
        self.directory(path.rpartition("/")[0])
        self.entries[path] = Entry(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def archive(self) -> bytes:
        """The tree as a newc archive, parents before children."""
        out = bytearray()
        for inode, path in enumerate(sorted(self.entries), start=1):
            _append(out, self.entries[path], inode)
        _append(out, Entry(TRAILER, 0), 0)
        return bytes(out)


def _pad(out: bytearray) -> None:
    out += b"\0" * (-len(out) % 4)


def _append(out: bytearray, entry: Entry, inode: int) -> None:
    name = entry.path.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (inode, entry.mode, 0, 0, nlink, 0, len(entry.data), 0, 0, *entry.rdev, len(name), 0)
    out += b"070701" + "".join(f"{value:08x}" for value in fields).encode()
    out += name
    _pad(out)
    out += entry.data
    _pad(out)
