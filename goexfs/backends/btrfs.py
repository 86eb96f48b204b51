"""The btrfs backend: when the project is a btrfs subvolume, two snapshots. O(1) to stage.

Layout, inside the project's own ``.goex/staged/btrfs-XXXX/``::

    base/   a read-only snapshot of the project: the before side, frozen at stage time
    tree/   a writable snapshot: what the sandbox binds at the project's path

Both are made with ``btrfs subvolume snapshot`` (btrfs-progs, through subprocess), which costs
the same for ten files or a million. A snapshot does not descend into nested subvolumes (the
snapshots of earlier stagings appear in it as empty directories); the staged tree's copy of
``.goex`` is removed, so the action never sees goex's state.

The read-only ``base`` snapshot makes the commit's conflict check exact and lazy at once: the
before-side entries of just the changed paths are read from it (``LookupBefore``), and a user
edit of the real project meanwhile shows up as a difference between the project and ``base``.
The changed paths come from the watchdog recorder (``goexfs.watch``), each compared between
``base`` and ``tree``; when the recorder is in doubt, the two snapshots are compared whole.

``discard`` deletes both subvolumes, then the directory. Creating and deleting snapshots needs
root (or a filesystem mounted with ``user_subvol_rm_allowed`` and an owner who may snapshot).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from goexfs.backends.base import (
    BackendUnavailable,
    TreeStaged,
    filesystem_type,
    make_location,
    remove_tree,
    resume_fields,
)
from goexfs.backends.before import LookupBefore
from goexfs.paths import INTERNAL_DIR
from goexfs.watch import Recorder

SUBVOLUME_INODE = 256  # the root directory of every btrfs subvolume
TIMEOUT = 60.0


def unavailable(root: Path) -> str | None:
    """Why btrfs cannot stage root here (None when it can be tried)."""
    if shutil.which("btrfs") is None:
        return "btrfs-progs (the btrfs command) is not installed"
    kind = filesystem_type(root)
    if kind != "btrfs":
        return f"{root} is on {kind}, not btrfs"
    if os.stat(root).st_ino != SUBVOLUME_INODE:
        return f"{root} is on btrfs but is not a subvolume (btrfs subvolume create makes one)"
    return None


@dataclass(frozen=True)
class BtrfsStager:
    """Stages a btrfs subvolume as two snapshots of it (see the module docstring)."""

    name: str = "btrfs"
    record: bool = True

    def stage(self, root: Path, workspace: Path) -> BtrfsStaged:
        reason = unavailable(root)
        if reason:
            raise BackendUnavailable(self.name, reason)
        location = make_location(workspace, "btrfs-")
        staged = BtrfsStaged(
            self.name, root, location / "tree", location, LookupBefore(location / "base")
        )
        try:
            _btrfs("subvolume", "snapshot", "-r", str(root), str(location / "base"))
            _btrfs("subvolume", "snapshot", str(root), str(staged.tree))
            remove_tree(staged.tree / INTERNAL_DIR)
            staged.save()
            if self.record:
                staged.source = Recorder(staged.tree).start()
        except BaseException:
            staged.discard()
            raise
        return staged


@dataclass
class BtrfsStaged(TreeStaged):
    """Two snapshots; discarding deletes both subvolumes."""

    def _release(self) -> None:
        for name in ("tree", "base"):
            path = self.location / name
            if path.exists() and os.stat(path).st_ino == SUBVOLUME_INODE:
                _btrfs("subvolume", "delete", str(path))


def _btrfs(*args: str) -> None:
    try:
        subprocess.run(
            ["btrfs", *args], check=True, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise BackendUnavailable(
            "btrfs", f"btrfs {args[0]} {args[1]} failed: {detail[-1] if detail else exc}"
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendUnavailable("btrfs", f"cannot run btrfs {args[0]} {args[1]}: {exc}") from exc


def resume(location: Path) -> BtrfsStaged:
    """A kept btrfs staging (the snapshots outlive the process that made them)."""
    return BtrfsStaged(**resume_fields(location))
