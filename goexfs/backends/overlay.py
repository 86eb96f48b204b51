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

Mounting needs CAP_SYS_ADMIN. As root goex mounts the overlay where it stands. A user who is
not root gets the same layout mounted in a user namespace of their own (``goexfs.backends.
rootless``, Linux 5.11+): a small process holds that namespace for as long as this process needs
the merged view, which it reads through ``/proc/PID/root`` (``view``) and in which the sandbox
starts (``enter``, an ``nsenter`` prefix). There overlayfs keeps its markers in ``user.overlay.*``
xattrs instead of ``trusted.overlay.*``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.interrupt import deferred
from goexfs.backends.base import BackendUnavailable, refuse_if_unavailable
from goexfs.backends.before import LookupBefore, stage_mark
from goexfs.backends.staging import TreeStaging, make_location, remove_tree, resume_fields
from goexfs.backends.watch import Candidates
from goexfs.tree.manifest import walk
from goexfs.tree.paths import INTERNAL_DIR

OPAQUE_XATTR = {False: "trusted.overlay.opaque", True: "user.overlay.opaque"}  # by rootless
OPTIONS = "redirect_dir=off,metacopy=off,index=off,xino=off"
ROOTLESS_KERNEL = (5, 11)  # the first kernel that mounts overlayfs in a user namespace
HOLDER = Path(__file__).with_name("rootless.py")
HOLDER_TIMEOUT = 30.0  # seconds the holder may take to mount
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
        if os.geteuid() != 0 and (reason := _no_user_namespace(root)) is not None:
            return reason
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
        if staged.rootless or not os.path.ismount(staged.tree):
            staged.mount()
        return staged

    def stage(self, root: Path, workspace: Path) -> OverlayStaging:
        refuse_if_unavailable(self.name, self.unavailable(root))
        location = make_location(workspace, "overlay-")
        staged: OverlayStaging | None = None
        try:
            mark = stage_mark(location)
            staged = OverlayStaging(
                self.name,
                root,
                location / "tree",
                location,
                LookupBefore(root, mark),
                extra={
                    "upper": str(location / "upper"),
                    "work": str(location / "work"),
                    "rootless": os.geteuid() != 0,
                },
            )
            for part in ("upper", "work", "tree"):
                os.mkdir(location / part, 0o700)
            os.mknod(staged.upper / INTERNAL_DIR, stat.S_IFCHR | 0o600, os.makedev(0, 0))
            staged.mount()
            staged.save()
        except BaseException:
            with deferred():  # a second Ctrl-C does not leave half a clean-up
                if staged is not None:
                    staged._release()
                remove_tree(location)
            raise
        return staged


@dataclass
class OverlayStaging(TreeStaging):
    """An overlay mount; the upper layer says which paths to compare."""

    holder: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def upper(self) -> Path:
        return Path(self.extra["upper"])

    @property
    def rootless(self) -> bool:
        return bool(self.extra.get("rootless"))

    @property
    def view(self) -> Path:
        if self.holder is None:
            return self.tree
        return Path(f"/proc/{self.holder.pid}/root") / self.tree.relative_to("/")

    @property
    def enter(self) -> list[str]:
        if self.holder is None:
            return []
        nsenter = shutil.which("nsenter") or "nsenter"
        return [nsenter, f"--target={self.holder.pid}", "--user", "--mount",
                "--preserve-credentials", "--wd", "--"]  # fmt: skip

    def mount(self) -> None:
        layers = f"lowerdir={self.root},upperdir={self.upper},workdir={self.extra['work']}"
        if self.rootless:
            self._hold()
            return
        data = f"{layers},{OPTIONS}".encode()
        if _libc.mount(b"overlay", bytes(self.tree), b"overlay", 0, data) != 0:
            code = ctypes.get_errno()
            raise BackendUnavailable(
                "overlay", f"the kernel refused the overlay mount ({os.strerror(code)})"
            )

    def _hold(self) -> None:
        """Mount in a user namespace held by a process of our own (see the module docstring):
        in a session of its own, so that a Ctrl-C meant for goex does not end it mid-commit."""
        argv = [sys.executable, "-I", "-S", str(HOLDER), str(self.root), str(self.upper),
                self.extra["work"], str(self.tree)]  # fmt: skip
        holder = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], HOLDER_TIMEOUT)
        answer = holder.stdout.readline().decode(errors="replace").strip() if ready else ""
        if answer != "ready":
            _stop(holder)
            why = answer.removeprefix("error: ") or "the namespace holder exited"
            raise BackendUnavailable("overlay", why)
        self.holder = holder

    def _candidates(self) -> Candidates:
        paths: set[str] = set()
        subtrees: set[str] = set()
        for rel, path in walk(self.upper):
            info = os.lstat(path)
            if rel == INTERNAL_DIR and _is_whiteout(info):
                continue  # the whiteout that hides goex's state
            paths.add(rel)
            if rel == INTERNAL_DIR:
                continue  # the command made its own .goex: never compared with goex's state
            if not stat.S_ISDIR(info.st_mode) or _is_opaque(path, self.rootless):
                subtrees.add(rel)
        self.candidates = Candidates(frozenset(paths), frozenset(subtrees))
        return self.candidates

    def _release(self) -> None:
        if self.holder is not None:
            _stop(self.holder)  # the namespace, and the mount in it, end with the holder
            self.holder = None
        else:
            _unmount(self.tree)


def _no_user_namespace(root: Path) -> str | None:
    """Why a user who is not root cannot mount an overlay over root in a user namespace here."""
    release = tuple(int(n) for n in os.uname().release.split("-")[0].split(".")[:2] if n.isdigit())
    if release < ROOTLESS_KERNEL:
        return f"kernel {os.uname().release} cannot mount overlayfs without root (5.11+ can)"
    for knob, allowed in (
        ("/proc/sys/user/max_user_namespaces", lambda v: int(v) > 0),
        ("/proc/sys/kernel/unprivileged_userns_clone", lambda v: v == "1"),
        ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", lambda v: v == "0"),
    ):
        try:
            value = Path(knob).read_text(encoding="ascii").strip()
        except OSError:
            continue  # not this kernel's knob
        if not allowed(value):
            return f"user namespaces are off for users who are not root ({knob} = {value})"
    if shutil.which("nsenter") is None:
        return "nsenter (util-linux) is not installed"
    info = os.stat(root)
    if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
        # overlayfs refuses to copy up a file whose owner the namespace does not map
        return f"{root} belongs to another user or group than the one goex runs as"
    return None


def _stop(holder: subprocess.Popen[bytes]) -> None:
    for stream in (holder.stdin, holder.stdout):
        if stream is not None:
            stream.close()
    try:
        holder.wait(timeout=5)
    except subprocess.TimeoutExpired:
        holder.kill()
        holder.wait()


def _is_whiteout(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def _is_opaque(path: Path, rootless: bool) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR[rootless], follow_symlinks=False) == b"y"
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
