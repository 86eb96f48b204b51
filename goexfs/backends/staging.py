"""The shared staging implementation: ``TreeStaging``, a staged tree that is an ordinary
directory (or a mount of one), and the helpers every backend uses to make, save, resume and
remove one.

Every backend's ``Staging`` (``goexfs.backends.base``) is a ``TreeStaging`` or a subclass of it:
the copy, reflink and git backends use it as it is; overlay and btrfs override how the paths to
compare are found (``_candidates``) and what must be undone besides plain files (``_release``).
A staging saves what a later process needs next to its tree (``save``), so that a kept staging
can be picked up again (``resume_tree``, ``resume_fields``).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import GoexError, PathError
from goexfs.apply.safefs import lookup, opened_dir, read_bytes
from goexfs.backends.base import PathSource
from goexfs.backends.before import Before, RecordedBefore, before_from_json
from goexfs.backends.watch import Candidates, Recorder
from goexfs.tree.effects import Change, compare, describe, limit_total
from goexfs.tree.manifest import Entry, EntryType, Manifest, manifest_from_json, scan, walk
from goexfs.tree.paths import DEFAULT_SECRETS, SecretPaths, parts_of

MAX_DIFF_FILE = 1 << 20  # files larger than this are compared by hash only, not diffed
MANIFEST_FILE = "manifest.json"
BEFORE_FILE = "before.json"

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class TreeStaging:
    """A staged tree that is a complete ordinary directory.

    Changes are measured, never predicted: the paths to look at come from ``_candidates()``
    (a recorder of the run's events, an overlay's upper directory, ...) or, when there is any
    doubt, from a full scan; either way each path's entry in the staged tree is compared with
    its entry on the before side (``goexfs.backends.before``).
    """

    backend: str
    root: Path
    tree: Path
    location: Path
    before: Before
    source: PathSource | None = None
    candidates: Candidates | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return str(self.extra.get("reason") or f"fs backend {self.backend} was chosen")

    @reason.setter
    def reason(self, text: str) -> None:
        self.extra["reason"] = text

    @property
    def view(self) -> Path:
        """Where this process reads the staged tree: the tree itself, unless it is mounted in
        another mount namespace (rootless overlay)."""
        return self.tree

    @property
    def enter(self) -> list[str]:
        """The argv prefix that starts the sandbox where the tree is mounted (none: here)."""
        return []

    @property
    def manifest(self) -> Manifest:
        """The before-side entries the commit checks against (every path a diff named, and
        its parents)."""
        return self.before.recorded()

    def changes(self, secrets: SecretPaths = DEFAULT_SECRETS) -> list[Change]:
        found = self._measure()
        for parent in _parents(change.path for change in found):
            self.before.entry(parent)  # recorded for the commit's conflict check
        self.save(before=not isinstance(self.before, RecordedBefore))
        with opened_dir(self.root) as real_fd, opened_dir(self.view) as tree_fd:
            described = [self._describe(c, real_fd, tree_fd, secrets) for c in found]
        return limit_total(described)

    def _candidates(self) -> Candidates | None:
        if self.source is not None:
            self.candidates = self.source.stop()
            self.source = None
        return self.candidates

    def _measure(self) -> list[Change]:
        candidates = self._candidates()
        if candidates is None:
            return compare(self.before.everything(), scan(self.view, skip_internal=False))
        paths = set(candidates.paths) | set(candidates.subtrees)
        for top in candidates.subtrees:
            paths.update(self.before.descendants(top))
            paths.update(_descendants(self.view, top))
        before = {p: e for p in paths if (e := self.before.entry(p)) is not None}
        with opened_dir(self.view) as tree_fd:
            after = {p: e for p in paths if (e := _lookup(tree_fd, p)) is not None}
        return compare(before, after)

    def _describe(self, change: Change, real_fd: int, tree_fd: int, secrets: SecretPaths) -> Change:
        before = after = None
        if change.before is not None and change.before.type is EntryType.FILE:
            before = read_bytes(real_fd, change.path, MAX_DIFF_FILE)
            if before is not None and lookup(real_fd, change.path) != change.before:
                before = None  # the real file changed since staging: no trustworthy diff
        if change.after is not None and change.after.type is EntryType.FILE:
            after = read_bytes(tree_fd, change.path, MAX_DIFF_FILE)
        too_big = any(
            entry is not None and entry.type is EntryType.FILE and entry.size > MAX_DIFF_FILE
            for entry in (change.before, change.after)
        )
        described = describe(change, before, after, secrets)
        if too_big and not described.binary:
            return replace(described, diff=f"(file too large to diff; {change.path} differs)")
        return described

    def rollback(self) -> None:
        if self.source is not None:
            self.source.stop()
            self.source = None
        self._release()
        remove_tree(self.location)

    def _release(self) -> None:
        """Undo what a backend set up besides plain files (a mount, subvolumes)."""

    def ready(self, *, record: bool) -> TreeStaging:
        """Finish staging a full-copy tree: save it for a later process and, with ``record``,
        start watching it so the diff looks only at the paths the run touches."""
        self.save()
        if record:
            self.source = Recorder(self.tree).start()
        return self

    def save(self, *, before: bool = True) -> None:
        """Keep what a later process needs next to the tree, so a kept staging can be resumed
        (``goexfs.backends.resume``). The before side goes to its own file, rewritten only when
        asked: a complete stage-time manifest is written once, not after every diff."""
        if before:
            _write_private(self.location / BEFORE_FILE, self.before.to_json())
        data: dict[str, Any] = {
            "backend": self.backend,
            "root": str(self.root),
            "tree": str(self.tree),
            "candidates": None if self.candidates is None else self.candidates.to_json(),
            "extra": self.extra,
        }
        _write_private(self.location / MANIFEST_FILE, data)


def _parents(paths: Iterable[str]) -> list[str]:
    """Every parent directory of the paths, each once, found by walking up only until a parent
    already seen (a chain 1,000 deep is not 1,000 times 1,000 prefixes)."""
    found: set[str] = set()
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent and parent not in found:
            found.add(parent)
            parent = parent.rpartition("/")[0]
    return sorted(found)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, most likely: the staging cannot be kept
        tmp.unlink(missing_ok=True)
        raise PathError(
            f"cannot save the staged copy's state in {path.parent}: {exc.strerror}",
            path=str(path),
        ) from exc


def _lookup(tree_fd: int, rel: str) -> Entry | None:
    try:
        return lookup(tree_fd, rel)
    except PathError:  # a parent is a symlink or a file in the staged tree: rel is not there
        return None


def _descendants(tree: Path, rel: str) -> list[str]:
    top = tree.joinpath(*parts_of(rel))
    try:
        if not stat.S_ISDIR(os.lstat(top).st_mode):
            return []
    except OSError:
        return []
    return [f"{rel}/{sub}" for sub, _ in walk(top)]


def remove_tree(path: Path) -> None:
    """Remove a staging directory, even where the command took away read or write permission
    or nested directories thousands deep (no recursion: ``shutil.rmtree`` recurses once per
    level and ran out of stack on a tree 1,000 levels deep)."""
    if not os.path.lexists(path):
        return
    try:
        _remove_all(os.fspath(path))
    except OSError as exc:
        raise PathError(
            f"cannot remove staged copy {path}: {exc.strerror}", path=str(path)
        ) from exc


def private_dir(path: Path) -> None:
    """Create the private (0700) directory path if it is missing — as a btrfs subvolume when
    it lies on btrfs, so that a snapshot of the project (the btrfs backend) leaves it out
    instead of carrying goex's state into the staged tree, where it would have to be deleted."""
    if os.path.lexists(path):
        return
    if filesystem_type(path.parent) == "btrfs" and shutil.which("btrfs"):
        made = subprocess.run(
            ["btrfs", "subvolume", "create", str(path)], capture_output=True, timeout=60
        )
        if made.returncode == 0:
            os.chmod(path, 0o700)
            return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _remove_all(top: str) -> None:
    if os.path.islink(top) or not os.path.isdir(top):
        os.unlink(top)
        return
    stack = [top]
    while stack:
        current = stack[-1]
        os.chmod(current, stat.S_IRWXU)
        subdirs = []
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.path)
                else:
                    os.unlink(entry.path)
        if subdirs:
            stack.extend(subdirs)  # emptied first; current is listed again once they are gone
        else:
            os.rmdir(current)
            stack.pop()


def make_location(workspace: Path, prefix: str) -> Path:
    """A new private (0700) directory under workspace, refusing a workspace reached through
    a symlink."""
    try:
        if workspace.parent.is_dir():
            private_dir(workspace)
        workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = workspace.lstat()
    except OSError as exc:
        raise GoexError(f"cannot create staging area {workspace}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PathError(f"staging area {workspace} is not a directory", path=str(workspace))
    return Path(tempfile.mkdtemp(prefix=prefix, dir=workspace))


_FS_MAGIC = {
    0x9123683E: "btrfs",
    0x58465342: "xfs",
    0xEF53: "ext4",
    0x01021994: "tmpfs",
    0x794C7630: "overlay",
    0x65735546: "fuse",
    0x6969: "nfs",
}


def filesystem_type(path: Path) -> str:
    """The name of the filesystem path lives on (``btrfs``, ``xfs``, ...), from statfs(2)."""
    buf = ctypes.create_string_buffer(256)  # struct statfs; f_type is its first field
    if _libc.statfs(os.fsencode(path), buf) != 0:
        return "an unknown filesystem"
    magic = ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF
    return _FS_MAGIC.get(magic, f"filesystem 0x{magic:x}")


def read_saved(location: Path) -> dict[str, Any]:
    """What ``TreeStaging.save`` wrote for a kept staging; PathError when gone or damaged."""
    path = location / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PathError(
            f"staged copy {location} is missing or damaged: {exc}", path=str(path)
        ) from exc
    if not isinstance(data, dict):
        raise PathError(f"staged copy {location} is damaged", path=str(path))
    return data


def resume_fields(location: Path) -> dict[str, Any]:
    """The keyword arguments of a kept ``TreeStaging``, rebuilt from what ``save`` wrote."""
    data = read_saved(location)
    if "manifest" in data:  # saved before the before side was pluggable
        before: Before = RecordedBefore(manifest_from_json(data["manifest"]))
    else:
        try:
            saved_before = json.loads((location / BEFORE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PathError(
                f"staged copy {location} is missing or damaged: {exc}", path=str(location)
            ) from exc
        before = before_from_json(saved_before)
    saved = data.get("candidates")
    return {
        "backend": data["backend"],
        "root": Path(data["root"]),
        "tree": Path(data["tree"]),
        "location": location,
        "before": before,
        "candidates": None if saved is None else Candidates.from_json(saved),
        "extra": dict(data.get("extra") or {}),
    }


def resume_tree(location: Path) -> TreeStaging:
    """A kept ``TreeStaging`` staging, rebuilt from its saved state (for a later commit)."""
    return TreeStaging(**resume_fields(location))
