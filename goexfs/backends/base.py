"""The Stager contract: put a private, writable copy of a project where a command can run.

A ``Stager`` turns a real root into a ``Staged`` tree:

* ``tree`` — the directory the command runs against (the sandbox binds it at the real root's
  path, so absolute paths in the command land in the staged copy);
* ``manifest`` — the real root as it was at stage time (``goexfs.manifest``), for measuring
  changes and for the commit's conflict check;
* ``changes()`` — what the command changed, measured from the trees (never predicted);
* ``discard()`` — remove everything the staging owns; the real root is never touched.

Backends differ in how they make the copy and how cheaply they find what changed (a full copy,
an overlay's upper directory, a btrfs snapshot, reflinks, a git worktree); ``TreeStaged`` is the
shared implementation for backends whose staged tree is a complete, ordinary directory.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from core.errors import GoexError, PathError
from goexfs.changes import Change, compare, describe, limit_total
from goexfs.manifest import EntryType, Manifest, manifest_from_json, manifest_to_json, scan
from goexfs.safefs import lookup, opened_dir, read_bytes

MAX_DIFF_FILE = 1 << 20  # files larger than this are compared by hash only, not diffed
MANIFEST_FILE = "manifest.json"


class Staged(Protocol):
    @property
    def backend(self) -> str: ...

    @property
    def root(self) -> Path: ...

    @property
    def tree(self) -> Path: ...

    @property
    def location(self) -> Path: ...

    @property
    def manifest(self) -> Manifest: ...

    def changes(self) -> list[Change]: ...

    def discard(self) -> None: ...


class Stager(Protocol):
    @property
    def name(self) -> str: ...

    def stage(self, root: Path, workspace: Path) -> Staged:
        """Stage root into a new private directory under workspace."""
        ...


@dataclass(frozen=True)
class TreeStaged:
    """A staged tree that is a complete ordinary directory: changes come from scanning it."""

    backend: str
    root: Path
    tree: Path
    location: Path
    manifest: Manifest

    def changes(self) -> list[Change]:
        after = scan(self.tree, skip_internal=False)
        found = compare(self.manifest, after)
        with opened_dir(self.root) as real_fd, opened_dir(self.tree) as tree_fd:
            described = [self._describe(change, real_fd, tree_fd) for change in found]
        return limit_total(described)

    def _describe(self, change: Change, real_fd: int, tree_fd: int) -> Change:
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
        described = describe(change, before, after)
        if too_big and not described.binary:
            return replace(described, diff=f"(file too large to diff; {change.path} differs)")
        return described

    def discard(self) -> None:
        remove_tree(self.location)

    def save_manifest(self) -> None:
        """Keep the stage-time manifest next to the tree, so a kept staging can be resumed."""
        data: dict[str, Any] = {
            "backend": self.backend,
            "root": str(self.root),
            "tree": str(self.tree),
            "manifest": manifest_to_json(self.manifest),
        }
        path = self.location / MANIFEST_FILE
        path.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.chmod(path, 0o600)


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
        workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = workspace.lstat()
    except OSError as exc:
        raise GoexError(f"cannot create staging area {workspace}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PathError(f"staging area {workspace} is not a directory", path=str(workspace))
    return Path(tempfile.mkdtemp(prefix=prefix, dir=workspace))


def read_saved(location: Path) -> dict[str, Any]:
    """What ``save_manifest`` wrote for a kept staging, or PathError when it is gone or damaged."""
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


def resume_tree(location: Path) -> TreeStaged:
    """A kept ``TreeStaged`` staging, rebuilt from its saved manifest (for a later commit)."""
    data = read_saved(location)
    return TreeStaged(
        backend=data["backend"],
        root=Path(data["root"]),
        tree=Path(data["tree"]),
        location=location,
        manifest=manifest_from_json(data["manifest"]),
    )
