"""The overlay backend: overlayfs with the project itself as the lower layer. O(1) to stage.

Layout, all inside the project's own ``.goex/staged/overlay-XXXX/``::

    mark    the stage mark (its ctime), taken before anything else
    upper/  overlayfs's upper layer: exactly the change set
    work/   overlayfs's scratch directory
    tree/   the mount point of the merged view — what the sandbox binds at the project's path

Upper and work lie *inside* the lower layer. The kernel accepts this layout (Linux 6.x mounts
it; it marks the upper and work directories as "trap" inodes, so reaching them *through* the
overlay fails with ELOOP instead of recursing), and it keeps the change set on the project's
own filesystem. goex's ``.goex`` is hidden from the action by a whiteout put in the upper layer
before mounting, so the action sees neither the journal nor its own upper directory.

Changes come from walking the upper layer, never the project: a whiteout (a 0/0 character
device) is a deletion, an opaque directory (``trusted.overlay.opaque``) a replacement, and any
other upper entry a path to compare. Whiteouts, opaque directories and non-directories are
expanded with what the lower layer had below them; a merged (non-opaque) directory is only
compared itself. So the diff is O(changes) whatever the project's size. ``redirect_dir`` and
``metacopy`` are turned off so that the upper layer alone says which paths changed.

The lower layer is the live project, and overlayfs does not freeze it: a file the user edits
in the real directory while the action is staged shows through to the action (until the action
writes it). goex does not try to prevent that; it detects it. The before-side entries are read
from the real project only for the changed paths (``LookupBefore``), each guarded by the stage
mark: a path whose ctime is at or after the mark changed during staging, so it is recorded as
unknown and the commit refuses it as a conflict, applying nothing.

Mounting needs CAP_SYS_ADMIN: goex runs this backend as root (rootless overlay in a user
namespace would need the whole run inside that namespace; not done here).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from core.interrupt import deferred
from goexfs.backends.base import BackendUnavailable, refuse_if_unavailable
from goexfs.backends.before import LookupBefore, stage_mark
from goexfs.backends.staging import TreeStaging, make_location, remove_tree, resume_fields
from goexfs.backends.watch import Candidates
from goexfs.tree.manifest import walk
from goexfs.tree.paths import INTERNAL_DIR

OPAQUE_XATTR = "trusted.overlay.opaque"
OPTIONS = "redirect_dir=off,metacopy=off,index=off,xino=off"
UNSAFE_IN_OPTIONS = (",", ":", "\\", "=")
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class OverlayStager:
    """Stages a project as an overlay mount over it (see the module docstring)."""

    name: ClassVar[str] = "overlay"

    @staticmethod
    def unavailable(root: Path) -> str | None:
        """Why overlay cannot stage root here (None when it can be tried)."""
        if os.geteuid() != 0:
            return "mounting an overlay needs root (CAP_SYS_ADMIN)"
        try:
            with open("/proc/filesystems", encoding="utf-8") as handle:
                if not any(line.split()[-1:] == ["overlay"] for line in handle):
                    return "the kernel has no overlayfs"
        except OSError:
            return "cannot read /proc/filesystems"
        if any(char in str(root) for char in UNSAFE_IN_OPTIONS):
            return f"the path {root} has a character overlayfs mount options cannot carry"
        return None

    @staticmethod
    def resume(location: Path) -> OverlayStaging:
        """A kept overlay staging; remounted if the mount did not survive (a reboot)."""
        fields: dict[str, Any] = resume_fields(location)
        staged = OverlayStaging(**fields)
        if not os.path.ismount(staged.tree):
            staged.mount()
        return staged

    def stage(self, root: Path, workspace: Path) -> OverlayStaging:
        refuse_if_unavailable(self.name, self.unavailable(root))
        location = make_location(workspace, "overlay-")
        try:
            mark = stage_mark(location)
            staged = OverlayStaging(
                self.name,
                root,
                location / "tree",
                location,
                LookupBefore(root, mark),
                extra={"upper": str(location / "upper"), "work": str(location / "work")},
            )
            for part in ("upper", "work", "tree"):
                os.mkdir(location / part, 0o700)
            os.mknod(staged.upper / INTERNAL_DIR, stat.S_IFCHR | 0o600, os.makedev(0, 0))
            staged.mount()
            staged.save()
        except BaseException:
            with deferred():  # a second Ctrl-C does not leave half a clean-up
                _unmount(location / "tree")
                remove_tree(location)
            raise
        return staged


@dataclass
class OverlayStaging(TreeStaging):
    """An overlay mount; the upper layer says which paths to compare."""

    @property
    def upper(self) -> Path:
        return Path(self.extra["upper"])

    def mount(self) -> None:
        options = f"lowerdir={self.root},upperdir={self.upper},workdir={self.extra['work']}"
        data = f"{options},{OPTIONS}".encode()
        if _libc.mount(b"overlay", bytes(self.tree), b"overlay", 0, data) != 0:
            code = ctypes.get_errno()
            raise BackendUnavailable(
                "overlay", f"the kernel refused the overlay mount ({os.strerror(code)})"
            )

    def _candidates(self) -> Candidates:
        paths: set[str] = set()
        subtrees: set[str] = set()
        for rel, path in walk(self.upper):
            info = os.lstat(path)
            if rel == INTERNAL_DIR and _is_whiteout(info):
                continue  # the whiteout that hides goex's state
            paths.add(rel)
            if not stat.S_ISDIR(info.st_mode) or _is_opaque(path):
                subtrees.add(rel)
        self.candidates = Candidates(frozenset(paths), frozenset(subtrees))
        return self.candidates

    def _release(self) -> None:
        _unmount(self.tree)


def _is_whiteout(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def _is_opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _unmount(tree: Path) -> None:
    """Unmount the merged view; lazily if something still holds it open."""
    if not os.path.ismount(tree):
        return
    if _libc.umount2(bytes(tree), 0) == 0:
        return
    if ctypes.get_errno() == errno.EBUSY and _libc.umount2(bytes(tree), MNT_DETACH) == 0:
        return
    code = ctypes.get_errno()
    raise BackendUnavailable("overlay", f"cannot unmount {tree} ({os.strerror(code)})")
