"""Commit: apply a reviewed, staged result to the real directory (invariant 2).

In order, and nothing is written to the project before step 4 — all of it under the project's
lock (``goexfs.apply.lock``, taken by the callers), so that concurrent sessions commit one at a
time:

1. every changed path is checked: relative, inside the root, not goex's own ``.goex``;
2. conflict check — every changed path (and each of its parent directories) must still be in
   the real root exactly what the stage-time manifest recorded, else ``ConflictError`` naming
   the paths; the staged tree must still hold exactly what was reviewed;
3. pre-images of everything the commit will overwrite or remove are copied to
   ``<root>/.goex/undo/<action id>/`` (with an ``undo.json`` describing the changes), the
   journal points at them (``set_undo``), and an intent listing the changes is journaled;
4. the changes are applied by ``goexfs.apply.converge``: removals (deepest first), then
   writes (parents first), files through a temporary file in the same directory, fsynced and
   renamed over the old one; every path walked from a descriptor of the root without following
   symlinks (``goexfs.apply.safefs``); directory modes last;
5. the intent is finished.

A commit that dies in step 4 leaves its intent unfinished, its pre-images and its staged copy in
place, which is what ``goexfs.apply.recover`` reads to put the directory in its before- or
after-state. ``goexfs.apply.faults`` names the steps, for the crash tests. The callers
(``goexfs.session.finish``, ``goexfs.kept.commit_kept``) hold the project lock
(``goexfs.apply.lock``) around it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.action import now_iso
from core.errors import ConflictError, PathError
from core.journal import Journal
from goexfs.apply.converge import converge, forward, tmp_prefix
from goexfs.apply.faults import fault_point
from goexfs.apply.safefs import (
    lookup,
    open_source,
    opened_dir,
    opened_subdir,
    parent_of,
    write_bytes,
    write_file,
)
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.manifest import Entry, EntryType
from goexfs.tree.paths import INTERNAL_DIR, is_internal, normalize, parents_of, sort_key

if TYPE_CHECKING:  # a type only: goexfs.backends reads the real root through goexfs.apply.safefs
    from goexfs.backends.base import Staging

COMMIT_STEP = "fs.commit"
UNDO_RECORD = "undo.json"


def undo_relpath(action_id: str) -> str:
    """Where a commit keeps its pre-images, relative to the root: ``.goex/undo/<id>``."""
    return f"{INTERNAL_DIR}/undo/{action_id}"


def undo_dir_for(root: Path, action_id: str) -> Path:
    return root / undo_relpath(action_id)


def commit(staged: Staging, changes: Sequence[Change], *, journal: Journal, action_id: str) -> Path:
    """Apply changes from the staged tree to the real root; returns the undo directory."""
    validate(changes)
    root = staged.root
    undo_rel = undo_relpath(action_id)
    with opened_dir(root) as real_fd, opened_dir(staged.view) as tree_fd:
        refuse_conflicts(real_fd, root, staged.manifest, changes)
        verify_staged(tree_fd, changes)
        fault_point("commit.checked")
        with opened_subdir(real_fd, undo_rel, create=True) as undo_fd:
            save_preimages(real_fd, undo_fd, root, action_id, changes)
        undo = str(root / undo_rel)
        journal.set_undo(action_id, pointer=undo)
        fault_point("commit.preimages")
        intent = journal.begin_intent(
            action_id,
            COMMIT_STEP,
            {
                "root": str(root),
                "undo": undo,
                "staged": str(staged.location),
                "changes": [change_record(c) for c in changes],
            },
        )
        fault_point("commit.intent")
        try:
            converge(real_fd, tree_fd, forward(changes), prefix=tmp_prefix(action_id))
        except OSError as exc:
            where = exc.filename if isinstance(exc.filename, str) else "the project"
            raise PathError(
                f"commit stopped part-way at {where}: {exc.strerror}; run goex-fs recover to "
                "put the directory back",
                path=where,
            ) from exc
        fault_point("commit.applied")
        journal.finish_intent(intent)
        fault_point("commit.finished")
    return root / undo_rel


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


def check_directory(staged: Staging, changes: Sequence[Change]) -> None:
    """Refuse (ConflictError, naming the paths) when a path the changes touch changed in the
    real directory since staging: the same words on every backend, before any backend's view of
    its staged copy (an overlay's lower layer is the directory itself) is looked at."""
    with opened_dir(staged.root) as real_fd:
        refuse_conflicts(real_fd, staged.root, staged.manifest, changes)


def refuse_conflicts(
    real_fd: int, root: Path, manifest: Mapping[str, Entry], changes: Sequence[Change]
) -> None:
    conflicts = find_conflicts(real_fd, manifest, changes)
    if conflicts:
        shown = "; ".join(conflicts[:10]) + ("; ..." if len(conflicts) > 10 else "")
        raise ConflictError(
            f"{len(conflicts)} path(s) in {root} changed in the directory since the action was "
            f"staged, so nothing was committed: {shown}",
            path=conflicts[0].split(":", 1)[0],
            details=conflicts,
        )


def find_conflicts(
    real_fd: int, manifest: Mapping[str, Entry], changes: Sequence[Change]
) -> list[str]:
    """One ``"path: reason"`` per changed path (or parent) that differs from the manifest."""
    conflicts: list[str] = []
    checked: set[str] = set()
    for change in sorted(changes, key=lambda c: sort_key(c.path)):
        for parent in parents_of(change.path):
            if parent not in checked:
                checked.add(parent)
                problem = drift(real_fd, parent, manifest.get(parent), type_only=True)
                if problem:
                    conflicts.append(f"{parent}: {problem}")
            if _not_dir(manifest, parent):
                break  # nothing below a path that was no directory at stage time can exist
        if change.path in checked or any(_not_dir(manifest, p) for p in parents_of(change.path)):
            # under a parent that was not a directory at stage time (and is checked to be still
            # the same): the path cannot exist in the real root, and the parent's own change
            # (a new directory, a symlink turned directory) is applied first
            continue
        checked.add(change.path)
        problem = drift(real_fd, change.path, manifest.get(change.path))
        before = change.before
        if problem is None and change.removes and before and before.type is EntryType.DIR:
            problem = _new_children(real_fd, change.path, manifest)
        if problem:
            conflicts.append(f"{change.path}: {problem}")
    return conflicts


def _not_dir(manifest: Mapping[str, Entry], rel: str) -> bool:
    entry = manifest.get(rel)
    return entry is None or entry.type is not EntryType.DIR


def drift(
    real_fd: int,
    rel: str,
    expected: Entry | None,
    *,
    since: str = "since staging",
    was: str = "was",
    type_only: bool = False,
) -> str | None:
    """How the entry at rel under real_fd differs from the one expected there (None: it does
    not), worded with ``since`` (``"since staging"``) and ``was`` (``"was"``): "changed since
    staging", "now a symlink, was a file". With ``type_only`` only its type must still agree."""
    try:
        actual = lookup(real_fd, rel)
    except PathError:
        return "a parent directory is now a symlink or a file"
    if expected is None:
        return None if actual is None else f"created {since}"
    if actual is None:
        return f"deleted {since}"
    if actual.type is not expected.type:
        return f"now a {actual.type.value}, {was} a {expected.type.value}"
    if type_only or actual.matches(expected):
        return None
    return f"changed {since}"


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
        "changes": [change_record(c) for c in changes],
        "preimages": preimages,
    }
    write_bytes(undo_fd, UNDO_RECORD, json.dumps(record, indent=1, sort_keys=True).encode())


def change_record(change: Change) -> dict[str, Any]:
    """A change as journaled for commit, undo and recover: everything but its diff."""
    data = change.to_json()
    data.pop("diff", None)
    return data
