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
The paths to compare come from btrfs itself: ``btrfs send --no-data -p base tree`` walks only
the parts of the two snapshots' B-trees that differ (O(changes)), and ``btrfs receive --dump``
names the paths; each is then compared between ``base`` and ``tree``. (A watchdog recorder
would cost a walk of the whole tree to set up its watches, which this backend avoids.) When
btrfs cannot answer, the two snapshots are compared whole.

``rollback`` deletes both subvolumes, then the directory. Creating and deleting snapshots needs
root (or a filesystem mounted with ``user_subvol_rm_allowed`` and an owner who may snapshot).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from core.interrupt import deferred
from goexfs.backends.base import BackendUnavailable, refuse_if_unavailable
from goexfs.backends.before import LookupBefore
from goexfs.backends.staging import (
    TreeStaging,
    filesystem_type,
    make_location,
    remove_tree,
    resume_fields,
)
from goexfs.backends.watch import Candidates
from goexfs.tree.paths import INTERNAL_DIR

SUBVOLUME_INODE = 256  # the root directory of every btrfs subvolume
TIMEOUT = 60.0


@dataclass(frozen=True)
class BtrfsStager:
    """Stages a btrfs subvolume as two snapshots of it (see the module docstring)."""

    name: ClassVar[str] = "btrfs"

    @staticmethod
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

    @staticmethod
    def resume(location: Path) -> BtrfsStaging:
        """A kept btrfs staging (the snapshots outlive the process that made them)."""
        return BtrfsStaging(**resume_fields(location))

    def stage(self, root: Path, workspace: Path) -> BtrfsStaging:
        refuse_if_unavailable(self.name, self.unavailable(root))
        location = make_location(workspace, "btrfs-")
        staged = BtrfsStaging(
            self.name, root, location / "tree", location, LookupBefore(location / "base")
        )
        try:
            _btrfs_together(
                ("subvolume", "snapshot", "-r", str(root), str(location / "base")),
                ("subvolume", "snapshot", str(root), str(staged.tree)),
            )
            remove_tree(staged.tree / INTERNAL_DIR)
            staged.save()
        except BaseException:
            with deferred():  # a second Ctrl-C does not leave half a clean-up
                staged.rollback()
            raise
        return staged


@dataclass
class BtrfsStaging(TreeStaging):
    """Two snapshots; the diff asks btrfs which paths differ; a rollback deletes both."""

    def _candidates(self) -> Candidates | None:
        if self.candidates is None and os.geteuid() == 0:  # btrfs send needs CAP_SYS_ADMIN
            found = sent_paths(self.location / "base", self.tree)
            if found is not None and not _hard_linked(self.tree, found):
                self.candidates = found
        return self.candidates

    def _release(self) -> None:
        for name in ("tree", "base"):
            path = self.location / name
            if path.exists() and os.stat(path).st_ino == SUBVOLUME_INODE:
                if os.geteuid() != 0:  # only root may delete a read-only subvolume
                    _btrfs("property", "set", "-ts", str(path), "ro", "false")
                _btrfs("subvolume", "delete", str(path))


def sent_paths(base: Path, tree: Path) -> Candidates | None:
    """The paths ``btrfs send --no-data -p base tree`` names: every path whose inode, name,
    mode or data differs between the snapshots, found by comparing their B-trees — O(changes).
    The staged tree is made read-only first (send needs it; nothing may change it after the
    run anyway). None when btrfs cannot answer or its answer cannot be read: compare all."""
    try:
        _btrfs("property", "set", "-ts", str(tree), "ro", "true")
        send = subprocess.Popen(
            ["btrfs", "send", "--no-data", "-q", "-p", str(base), str(tree)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        dump = subprocess.run(
            ["btrfs", "receive", "--dump"],
            stdin=send.stdout,
            capture_output=True,
            timeout=TIMEOUT,
        )
        assert send.stdout is not None
        send.stdout.close()
        # receive exits once it has read the stream's end marker, which can leave send to die
        # of SIGPIPE on its last write: the dump is complete exactly when receive succeeded
        if send.wait(TIMEOUT) not in (0, -signal.SIGPIPE) or dump.returncode != 0:
            return None
    except (BackendUnavailable, OSError, subprocess.TimeoutExpired):
        return None
    return parse_dump(dump.stdout, f"./{tree.name}")


def _hard_linked(tree: Path, candidates: Candidates) -> bool:
    """Whether a candidate is a file with other names: a snapshot keeps hard links, and btrfs
    send names a changed inode by one of its paths only, so the others would go unseen."""
    for rel in candidates.paths | candidates.subtrees:
        try:
            info = os.lstat(tree / rel)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            return True
    return False


WHOLE = frozenset({b"rename", b"link", b"mkdir", b"rmdir", b"mkfile", b"unlink", b"symlink"})
_ESCAPES = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"v": b"\v", b"f": b"\f", b"a": b"\a"}


def parse_dump(text: bytes, top: str) -> Candidates | None:
    """Candidates from ``btrfs receive --dump`` output (paths escaped as btrfs-progs prints
    them: ``\\ `` for a space, ``\\n``, octal ``\\377``, ...)."""
    paths: set[str] = set()
    subtrees: set[str] = set()
    prefix = top.encode() + b"/"
    for line in text.splitlines():
        tokens = _split(line)
        if tokens is None or len(tokens) < 2:
            return None
        command, path = tokens[0], tokens[1]
        if command == b"snapshot":
            continue
        named = [path]
        if command in (b"rename", b"link"):
            dest = [t for t in tokens[2:] if t.startswith(b"dest=")]
            if not dest:
                return None
            named.append(dest[0][len(b"dest=") :])
        for raw in named:
            if raw == top.encode() or raw == prefix:
                continue  # the tree's root itself
            if not raw.startswith(prefix):
                return None
            rel = os.fsdecode(raw[len(prefix) :]).rstrip("/")
            (subtrees if command in WHOLE else paths).add(rel)
    return Candidates(frozenset(paths), frozenset(subtrees))


def _split(line: bytes) -> list[bytes] | None:
    """Whitespace-separated tokens with btrfs-progs' backslash escapes undone."""
    tokens: list[bytes] = []
    current = bytearray()
    index = 0
    while index < len(line):
        char = line[index : index + 1]
        if char == b"\\":
            following = line[index + 1 : index + 2]
            octal = line[index + 1 : index + 4]
            if len(octal) == 3 and all(48 <= c <= 55 for c in octal):
                current.append(int(octal, 8))
                index += 4
                continue
            if not following:
                return None
            current += _ESCAPES.get(following, following)
            index += 2
            continue
        if char in (b" ", b"\t"):
            if current:
                tokens.append(bytes(current))
                current.clear()
        else:
            current += char
        index += 1
    if current:
        tokens.append(bytes(current))
    return tokens


def _btrfs_together(*commands: tuple[str, ...]) -> None:
    """Run btrfs commands at the same time (two snapshots share one transaction commit)."""
    running: list[tuple[tuple[str, ...], subprocess.Popen[str]]] = []
    try:
        for args in commands:
            process = subprocess.Popen(
                ["btrfs", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            running.append((args, process))
    except OSError as exc:
        raise BackendUnavailable("btrfs", f"cannot run btrfs: {exc.strerror}") from exc
    failures: list[str] = []
    for args, process in running:
        try:
            _, err = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            failures.append(f"btrfs {args[0]} {args[1]} timed out")
            continue
        if process.returncode != 0:
            detail = err.strip().splitlines()
            failures.append(f"btrfs {args[0]} {args[1]} failed: {detail[-1] if detail else ''}")
    if failures:
        raise BackendUnavailable("btrfs", "; ".join(failures))


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
