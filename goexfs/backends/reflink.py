"""The reflink backend: on a copy-on-write filesystem, a clone of every file. Metadata only.

Like the copy backend, it builds a complete private tree (``copy_tree``), but each file is a
reflink (the FICLONE ioctl) sharing its source's extents: no file data is read or written, so
staging costs one directory walk and a few metadata operations per file, and disk space only
for what the action rewrites. Works on btrfs and xfs (with reflink=1), not on ext4 or tmpfs;
the first refused clone makes the staging unavailable, and ``auto`` moves on.

Nothing is hashed at stage time: the before side is read lazily from the real project for just
the changed paths, guarded by the stage mark (``LookupBefore``); the changed paths come from the
watchdog recorder (``goexfs.backends.watch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from core.errors import TargetError
from core.interrupt import deferred
from goexfs.backends.base import refuse_if_unavailable
from goexfs.backends.before import LookupBefore, stage_mark
from goexfs.backends.copy import copy_tree
from goexfs.backends.staging import (
    TreeStaging,
    filesystem_type,
    make_location,
    remove_tree,
    resume_tree,
)

COW_FILESYSTEMS = ("btrfs", "xfs")


@dataclass(frozen=True)
class ReflinkStager:
    """Stages a project as a tree of reflinks (see the module docstring)."""

    name: ClassVar[str] = "reflink"
    record: bool = True

    @staticmethod
    def unavailable(root: Path) -> str | None:
        """Why reflink cannot stage root here (None when it can be tried)."""
        kind = filesystem_type(root)
        if kind not in COW_FILESYSTEMS:
            return f"{root} is on {kind}, which cannot clone files (btrfs or xfs can)"
        return None

    @staticmethod
    def resume(location: Path) -> TreeStaging:
        """A kept reflink staging: an ordinary tree (``resume_tree``)."""
        return resume_tree(location)

    def stage(self, root: Path, workspace: Path) -> TreeStaging:
        if not root.is_dir():
            raise TargetError(f"{root} is not a directory")
        refuse_if_unavailable(self.name, self.unavailable(root))
        location = make_location(workspace, "reflink-")
        try:
            before = LookupBefore(root, stage_mark(location))
            copy_tree(root, location / "tree", clone=True)
            staged = TreeStaging(self.name, root, location / "tree", location, before)
            staged.ready(record=self.record)
        except BaseException:
            with deferred():  # a second Ctrl-C does not leave half a clean-up
                remove_tree(location)
            raise
        return staged
