"""Commit: apply a reviewed, staged result to the real directory (invariant 2).

In order, and nothing is written to the project before step 4 — all of it under the project's
commit lock (``.goex/commit.lock``), so that concurrent sessions commit one at a time:

1. every changed path is checked: relative, inside the root, not goex's own ``.goex``;
2. conflict check — every changed path (and each of its parent directories) must still be in
   the real root exactly what the stage-time manifest recorded, else ``ConflictError`` naming
   the paths; the staged tree must still hold exactly what was reviewed;
3. pre-images of everything the commit will overwrite or remove are copied to
   ``<root>/.goex/undo/<action id>/`` (with an ``undo.json`` describing the changes), the
   journal points at them (``set_undo``), and an intent listing the changes is journaled;
4. removals (deepest first), then writes (parents first): files through a temporary file in the
   same directory, fsynced and renamed over the old one; every path walked from a descriptor
   of the root without following symlinks (``goexfs.safefs``); directory modes last;
5. the intent is finished.

A commit that fails in step 4 leaves its intent unfinished and its pre-images in place, which is
what ``recover`` (and ``undo``) read to put the directory back in its before- or after-state.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.action import now_iso
from core.errors import ConflictError, PathError
from core.journal import Journal
from goexfs.backends.base import Staged
from goexfs.changes import Change, ChangeKind
from goexfs.manifest import Entry, EntryType
from goexfs.paths import INTERNAL_DIR, is_internal, normalize, parents_of, parts_of, sort_key
from goexfs.safefs import (
    fsync_dir,
    lookup,
    make_symlink,
    open_source,
    opened_dir,
    opened_subdir,
    parent_of,
    remove,
    set_mode,
    write_bytes,
    write_file,
)

COMMIT_STEP = "fs.commit"
UNDO_RECORD = "undo.json"
LOCK_FILE = "commit.lock"


def undo_dir_for(root: Path, action_id: str) -> Path:
    return root / INTERNAL_DIR / "undo" / action_id


def commit(staged: Staged, changes: Sequence[Change], *, journal: Journal, action_id: str) -> Path:
    """Apply changes from the staged tree to the real root; returns the undo directory."""
    validate(changes)
    root = staged.root
    undo_rel = f"{INTERNAL_DIR}/undo/{action_id}"
    with opened_dir(root) as real_fd, opened_dir(staged.tree) as tree_fd, commit_lock(real_fd):
        conflicts = find_conflicts(real_fd, staged.manifest, changes)
        if conflicts:
            shown = "; ".join(conflicts[:10]) + ("; ..." if len(conflicts) > 10 else "")
            raise ConflictError(
                f"{len(conflicts)} path(s) in {root} changed since the action was staged, so "
                f"nothing was committed: {shown}",
                path=conflicts[0].split(":", 1)[0],
                details=conflicts,
            )
        verify_staged(tree_fd, changes)
        with opened_subdir(real_fd, undo_rel, create=True) as undo_fd:
            save_preimages(real_fd, undo_fd, root, action_id, changes)
        undo = str(root / undo_rel)
        journal.set_undo(action_id, pointer=undo)
        intent = journal.begin_intent(
            action_id,
            COMMIT_STEP,
            {"root": str(root), "undo": undo, "changes": [_record(c) for c in changes]},
        )
        try:
            apply_changes(real_fd, tree_fd, changes)
        except OSError as exc:
            where = exc.filename if isinstance(exc.filename, str) else "the project"
            raise PathError(
                f"commit stopped part-way at {where}: {exc.strerror}; the pre-images are in {undo}",
                path=where,
            ) from exc
        journal.finish_intent(intent)
    return root / undo_rel


@contextmanager
def commit_lock(real_fd: int) -> Iterator[None]:
    """One commit at a time per project (``flock`` on ``.goex/commit.lock``): the conflict check
    and the writes must not interleave with another session's, or two sessions that changed the
    same file both pass the check and one change is silently lost."""
    with opened_subdir(real_fd, INTERNAL_DIR, create=True) as internal_fd:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(LOCK_FILE, flags, 0o600, dir_fd=internal_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def validate(changes: Iterable[Change]) -> None:
    for change in changes:
        if normalize(change.path) != change.path:
            raise PathError(f"change path {change.path!r} is not normalised", path=change.path)
        if is_internal(change.path):
            raise PathError(
                f"{change.path} is inside goex's own {INTERNAL_DIR} directory and cannot be "
                "committed",
                path=change.path,
            )
        if change.after is not None and change.after.type is EntryType.OTHER:
            raise PathError(
                f"{change.path} is a fifo, socket or device and cannot be committed",
                path=change.path,
            )


def find_conflicts(
    real_fd: int, manifest: Mapping[str, Entry], changes: Sequence[Change]
) -> list[str]:
    """One ``"path: reason"`` per changed path (or parent) that differs from the manifest."""
    conflicts: list[str] = []
    checked: set[str] = set()
    for change in sorted(changes, key=lambda c: sort_key(c.path)):
        for parent in parents_of(change.path):
            if parent in checked:
                continue
            checked.add(parent)
            problem = _compare(real_fd, parent, manifest.get(parent), type_only=True)
            if problem:
                conflicts.append(f"{parent}: {problem}")
        if change.path in checked or any(_not_dir(manifest, p) for p in parents_of(change.path)):
            # under a parent that was not a directory at stage time (and is checked to be still
            # the same): the path cannot exist in the real root, and the parent's own change
            # (a new directory, a symlink turned directory) is applied first
            continue
        checked.add(change.path)
        problem = _compare(real_fd, change.path, manifest.get(change.path), type_only=False)
        before = change.before
        if problem is None and change.removes and before and before.type is EntryType.DIR:
            problem = _new_children(real_fd, change.path, manifest)
        if problem:
            conflicts.append(f"{change.path}: {problem}")
    return conflicts


def _not_dir(manifest: Mapping[str, Entry], rel: str) -> bool:
    entry = manifest.get(rel)
    return entry is None or entry.type is not EntryType.DIR


def _compare(real_fd: int, rel: str, expected: Entry | None, *, type_only: bool) -> str | None:
    try:
        actual = lookup(real_fd, rel)
    except PathError:
        return "a parent directory is now a symlink or a file"
    if expected is None:
        return None if actual is None else "created since staging"
    if actual is None:
        return "deleted since staging"
    if actual.type is not expected.type:
        return f"now a {actual.type.value}, was a {expected.type.value}"
    if type_only or actual.matches(expected):
        return None
    return "changed since staging"


def _new_children(real_fd: int, rel: str, manifest: Mapping[str, Entry]) -> str | None:
    with opened_subdir(real_fd, rel) as fd:
        names = os.listdir(fd)
    new = [name for name in names if f"{rel}/{name}" not in manifest]
    return f"has new entries since staging ({', '.join(sorted(new)[:5])})" if new else None


def verify_staged(tree_fd: int, changes: Iterable[Change]) -> None:
    """The staged tree must still hold exactly what was reviewed (invariant 5)."""
    for change in changes:
        if change.after is None:
            continue
        try:
            actual = lookup(tree_fd, change.path)
        except PathError:
            actual = None
        if actual is None or not actual.matches(change.after):
            raise ConflictError(
                f"the staged copy of {change.path} changed after it was reviewed; nothing was "
                "committed",
                path=change.path,
            )


def save_preimages(
    real_fd: int, undo_fd: int, root: Path, action_id: str, changes: Sequence[Change]
) -> None:
    """Copy every file the commit will overwrite or remove, and write ``undo.json``."""
    preimages: dict[str, str] = {}
    for change in changes:
        before = change.before
        if before is None or before.type is not EntryType.FILE:
            continue  # directories and symlinks are fully described by their entry
        if change.kind is ChangeKind.MODE:
            continue  # the contents stay; the mode is in the entry
        stored = f"files/{change.path}"
        source = open_source(real_fd, change.path)
        try:
            with parent_of(undo_fd, stored, create=True) as (dir_fd, name):
                write_file(
                    dir_fd,
                    name,
                    source,
                    mode=0o600,
                    mtime_ns=before.mtime_ns,
                    sha256=before.sha256,
                    where=change.path,
                )
        finally:
            os.close(source)
        preimages[change.path] = stored
    record = {
        "action_id": action_id,
        "root": str(root),
        "saved_at": now_iso(),
        "changes": [_record(c) for c in changes],
        "preimages": preimages,
    }
    write_bytes(undo_fd, UNDO_RECORD, json.dumps(record, indent=1, sort_keys=True).encode())


def apply_changes(real_fd: int, tree_fd: int, changes: Sequence[Change]) -> None:
    touched: set[str] = set()
    for change in sorted(
        (c for c in changes if c.removes), key=lambda c: sort_key(c.path), reverse=True
    ):
        assert change.before is not None
        with parent_of(real_fd, change.path) as (fd, name):
            remove(fd, name, is_dir=change.before.type is EntryType.DIR)
        touched.add(_parent(change.path))
    dir_modes: list[tuple[str, int]] = []
    for change in sorted((c for c in changes if c.after), key=lambda c: sort_key(c.path)):
        after = change.after
        assert after is not None
        with parent_of(real_fd, change.path) as (fd, name):
            if after.type is EntryType.DIR:
                if change.kind in (ChangeKind.ADDED, ChangeKind.TYPE):
                    os.mkdir(name, 0o700, dir_fd=fd)
                dir_modes.append((change.path, after.mode))
            elif after.type is EntryType.SYMLINK:
                assert after.target is not None
                make_symlink(fd, name, after.target)
            elif change.kind is ChangeKind.MODE:
                set_mode(fd, name, after.mode)
            else:
                _write_from(tree_fd, change.path, fd, name, after)
        touched.add(_parent(change.path))
    for rel, mode in reversed(dir_modes):
        with parent_of(real_fd, rel) as (fd, name):
            set_mode(fd, name, mode)
    for rel in sorted(touched, key=sort_key, reverse=True):
        try:
            with opened_subdir(real_fd, rel) as fd:
                fsync_dir(fd)
        except (PathError, FileNotFoundError):
            continue  # no longer a directory: removed or replaced by a later change


def _write_from(tree_fd: int, rel: str, dir_fd: int, name: str, after: Entry) -> None:
    source = open_source(tree_fd, rel)
    try:
        write_file(
            dir_fd,
            name,
            source,
            mode=after.mode,
            mtime_ns=after.mtime_ns,
            sha256=after.sha256,
            where=rel,
        )
    finally:
        os.close(source)


def _parent(rel: str) -> str:
    return "/".join(parts_of(rel)[:-1])


def _record(change: Change) -> dict[str, Any]:
    data = change.to_json()
    data.pop("diff", None)
    return data
