"""What a tree looked like: one ``Entry`` per path, read with ``lstat`` (symlinks not followed).

A manifest (relative path -> Entry) of the real root is recorded when an action is staged; the
action's changes are the differences between it and the staged tree's manifest after the run,
and the commit refuses any path whose real entry no longer matches the stage-time one.

Files carry a sha256 of their contents (read through ``O_NOFOLLOW``), so comparisons measure
contents, never trust mtimes: a command cannot hide an edit by resetting a timestamp.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.errors import PathError
from goexfs.tree.paths import INTERNAL_DIR

CHUNK = 1 << 20


class EntryType(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"  # fifo, socket, device: never staged, never committed


@dataclass(frozen=True)
class Entry:
    """One path's type, permission bits and content identity."""

    type: EntryType
    mode: int
    size: int = 0
    mtime_ns: int = 0
    sha256: str | None = None  # files
    target: str | None = None  # symlinks

    def same_content(self, other: Entry) -> bool:
        """Same type and same contents (a file's bytes, a symlink's target); mode aside."""
        if self.type is not other.type:
            return False
        if self.type is EntryType.FILE:
            return self.size == other.size and self.sha256 == other.sha256
        if self.type is EntryType.SYMLINK:
            return self.target == other.target
        return True

    def matches(self, other: Entry) -> bool:
        """Same contents and, except for symlinks (whose mode means nothing), the same mode."""
        if not self.same_content(other):
            return False
        return self.type is EntryType.SYMLINK or self.mode == other.mode

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type.value, "mode": f"{self.mode:04o}"}
        if self.type is EntryType.FILE:
            data.update(size=self.size, sha256=self.sha256)
        if self.type is EntryType.SYMLINK:
            data["target"] = self.target
        data["mtime_ns"] = self.mtime_ns
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        return cls(
            type=EntryType(data["type"]),
            mode=int(str(data["mode"]), 8),
            size=int(data.get("size", 0)),
            mtime_ns=int(data.get("mtime_ns", 0)),
            sha256=data.get("sha256"),
            target=data.get("target"),
        )


Manifest = dict[str, Entry]


def type_of(mode: int) -> EntryType:
    if stat.S_ISREG(mode):
        return EntryType.FILE
    if stat.S_ISDIR(mode):
        return EntryType.DIR
    if stat.S_ISLNK(mode):
        return EntryType.SYMLINK
    return EntryType.OTHER


def entry_from_stat(
    info: os.stat_result, *, sha256: str | None = None, target: str | None = None
) -> Entry:
    kind = type_of(info.st_mode)
    return Entry(
        type=kind,
        mode=stat.S_IMODE(info.st_mode),
        size=info.st_size if kind is EntryType.FILE else 0,
        mtime_ns=info.st_mtime_ns,
        sha256=sha256,
        target=target,
    )


def hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    while chunk := os.read(fd, CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def entry_at(path: Path | str, *, dir_fd: int | None = None) -> Entry | None:
    """The entry at path (relative to dir_fd when given), or None when nothing is there.

    The last component is never followed; a file is hashed through ``O_NOFOLLOW`` and the
    entry is taken from the open descriptor, so size, mode and hash describe the same file.
    """
    try:
        info = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise PathError(f"cannot inspect {path}: {exc.strerror}", path=str(path)) from exc
    kind = type_of(info.st_mode)
    if kind is EntryType.SYMLINK:
        return entry_from_stat(info, target=os.readlink(path, dir_fd=dir_fd))
    if kind is not EntryType.FILE:
        return entry_from_stat(info)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PathError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # replaced between the stat and the open
            return entry_from_stat(info)
        return entry_from_stat(info, sha256=hash_fd(fd))
    finally:
        os.close(fd)


def scan(root: Path, *, skip_internal: bool = True) -> Manifest:
    """The manifest of every path under root (root itself excluded), hashing every file.

    ``skip_internal`` leaves out the top-level ``.goex`` directory (goex's own state). Unreadable
    directories raise PathError: a tree that cannot be measured cannot be reviewed.
    """
    manifest: Manifest = {}
    skip = (INTERNAL_DIR,) if skip_internal else ()
    for rel, path in walk(root, skip=skip):
        entry = entry_at(path)
        if entry is not None:
            manifest[rel] = entry
    return manifest


def walk(
    root: Path, *, skip: Iterable[str] = (), prune: Callable[[str], bool] | None = None
) -> Iterable[tuple[str, Path]]:
    """(relative path, absolute path) of everything under root, parents before children.

    Symlinks are listed, never followed. ``skip`` names top-level entries to leave out;
    directories for which ``prune(rel)`` is true are listed but not entered.
    """
    skipped = frozenset(skip)
    stack: list[tuple[str, Path]] = [("", root)]
    while stack:
        prefix, directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise PathError(
                f"cannot list directory {directory}: {exc.strerror}", path=str(directory)
            ) from exc
        subdirs: list[tuple[str, Path]] = []
        for item in entries:
            if not prefix and item.name in skipped:
                continue
            rel = f"{prefix}/{item.name}" if prefix else item.name
            yield rel, Path(item.path)
            if item.is_dir(follow_symlinks=False) and not (prune and prune(rel)):
                subdirs.append((rel, Path(item.path)))
        stack.extend(reversed(subdirs))


def manifest_to_json(manifest: Mapping[str, Entry]) -> dict[str, Any]:
    return {rel: entry.to_json() for rel, entry in sorted(manifest.items())}


def manifest_from_json(data: Mapping[str, Any]) -> Manifest:
    return {rel: Entry.from_json(value) for rel, value in data.items()}
