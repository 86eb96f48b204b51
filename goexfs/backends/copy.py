"""The copy backend: a full private copy of the project, made while recording its manifest.

It works on every filesystem and needs no privileges, at the cost of reading and writing the
whole tree once (the faster overlay, btrfs and reflink backends share its ``TreeStaging``
measuring where they can). What is preserved:

* regular files with their permission bits and mtimes; each is hashed while it is copied, so
  the manifest describes exactly the bytes the command starts from;
* symlinks as symlinks (never followed; their targets are copied verbatim);
* directories with their modes and mtimes (applied after their contents are copied).

Left out: the top-level ``.goex`` directory (goex's own state), and fifos, sockets and devices
(recorded in the manifest, never copied). Ownership is not preserved: the copy belongs to the
user running goex, as the committed files will.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from core.errors import PathError, TargetError
from core.interrupt import deferred
from goexfs.backends.base import BackendUnavailable
from goexfs.backends.before import RecordedBefore
from goexfs.backends.staging import TreeStaging, make_location, remove_tree, resume_tree
from goexfs.tree.manifest import CHUNK, Entry, EntryType, Manifest, entry_from_stat, walk
from goexfs.tree.paths import INTERNAL_DIR


@dataclass(frozen=True)
class CopyStager:
    """Stages a project by copying it (see the module docstring)."""

    name: ClassVar[str] = "copy"
    record: bool = True  # watch the run, so the diff looks only at the paths it touched

    @staticmethod
    def unavailable(root: Path) -> str | None:
        """Never: copying works on every filesystem, without privileges."""
        return None

    @staticmethod
    def resume(location: Path) -> TreeStaging:
        """A kept copy staging: an ordinary tree (``resume_tree``)."""
        return resume_tree(location)

    def stage(self, root: Path, workspace: Path) -> TreeStaging:
        if not root.is_dir():
            raise TargetError(f"{root} is not a directory")
        location = make_location(workspace, "copy-")
        tree = location / "tree"
        try:
            manifest = copy_tree(root, tree)
            staged = TreeStaging(self.name, root, tree, location, RecordedBefore(manifest))
            staged.ready(record=self.record)
        except BaseException:
            with deferred():  # a second Ctrl-C does not leave half a clean-up
                remove_tree(location)
            raise
        return staged


def copy_tree(root: Path, dest: Path, *, clone: bool = False) -> Manifest:
    """Copy root to dest (which must not exist) and return root's manifest.

    With ``clone`` each file is a reflink (FICLONE) of its source — no data is read or written,
    and the manifest's files carry no hash (the reflink backend reads the before side lazily).
    """
    manifest: Manifest = {}
    directories: list[tuple[Path, Entry]] = []
    root_info = os.stat(root)
    os.mkdir(dest, 0o700)
    for rel, source in walk(root, skip=(INTERNAL_DIR,)):
        target = dest / rel
        try:
            entry = _copy_one(source, target, clone)
        except OSError as exc:
            raise PathError(
                f"cannot stage {rel}: {exc.strerror}; goex can only stage a project it can "
                "read completely",
                path=rel,
            ) from exc
        manifest[rel] = entry
        if entry.type is EntryType.DIR:
            directories.append((target, entry))
    # Modes and mtimes of directories last, deepest first: copying into them changed both.
    for path, entry in reversed(directories):
        os.chmod(path, entry.mode)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))
    os.chmod(dest, stat.S_IMODE(root_info.st_mode))
    return manifest


FICLONE = 0x40049409  # ioctl: share all of src's extents with dst (btrfs, xfs, ...)


def _clone(src: int, dst: int, target: Path) -> None:
    try:
        fcntl.ioctl(dst, FICLONE, src)
    except OSError as exc:
        raise BackendUnavailable(
            "reflink", f"the filesystem cannot clone {target.name} ({exc.strerror})"
        ) from exc


def _copy_one(source: Path, target: Path, clone: bool) -> Entry:
    info = os.lstat(source)
    if stat.S_ISDIR(info.st_mode):
        os.mkdir(target, 0o700)
        return entry_from_stat(info)
    if stat.S_ISLNK(info.st_mode):
        link = os.readlink(source)
        os.symlink(link, target)
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)
        return entry_from_stat(info, target=link)
    if stat.S_ISREG(info.st_mode):
        return _copy_file(source, target, clone)
    return entry_from_stat(info)


def _copy_file(source: Path, target: Path, clone: bool) -> Entry:
    src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(src)
        if not stat.S_ISREG(info.st_mode):  # replaced between the walk and the open
            return entry_from_stat(info)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        dst = os.open(target, flags, 0o600)
        try:
            if clone:
                _clone(src, dst, target)
                os.fchmod(dst, stat.S_IMODE(info.st_mode))
                os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
                return entry_from_stat(info)
            digest = hashlib.sha256()
            size = 0
            while chunk := os.read(src, CHUNK):
                digest.update(chunk)
                size += len(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(dst, view) :]
            os.fchmod(dst, stat.S_IMODE(info.st_mode))
            os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(dst)
        entry = entry_from_stat(info, sha256=digest.hexdigest())
        return replace(entry, size=size)  # what was read, should the file have grown meanwhile
    finally:
        os.close(src)
