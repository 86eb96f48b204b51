"""Undo a committed file action: put back its pre-images, remove what it added.

The commit left ``<root>/.goex/undo/<id>/undo.json`` (the changes it applied) and a copy of every
file it overwrote or removed. Undo:

1. checks that every path is still exactly what the commit wrote (content, mode, symlink target;
   a directory the commit created holds nothing it did not put there) — otherwise it refuses,
   listing the paths, with nothing changed, unless ``force`` is given;
2. runs as an action of its own, linked to the original (``undo <id>``): staged with the
   changes it will make and decided like any action (``goexfs.session.stage_undo``), so that
   it has a commit intent like any commit;
3. records its own apply intent (``fs.undo``) and brings every path back to its ``before``
   with ``goexfs.apply.converge`` — the same idempotent walk a commit uses, so ``recover``
   can always finish an undo that a crash interrupted (the pre-images stay until it is done);
4. marks the original ``undone``.

With ``force``, paths that changed since the commit are put back all the same; a directory that
must go but now holds someone else's files is left in place, and reported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConflictError, PathError, StateError
from core.journal import Journal
from goexfs.apply.commit import UNDO_RECORD, drift, undo_relpath
from goexfs.apply.converge import backward, converge, tmp_prefix
from goexfs.apply.faults import fault_point
from goexfs.apply.safefs import opened_dir, opened_subdir, read_bytes
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.manifest import EntryType
from goexfs.tree.paths import parents_of, sort_key

UNDO_STEP = "fs.undo"
MAX_RECORD = 1 << 30
REVERSED = {ChangeKind.ADDED: ChangeKind.DELETED, ChangeKind.DELETED: ChangeKind.ADDED}


@dataclass(frozen=True)
class UndoRecord:
    """What a commit saved to be undone: its changes and where each pre-image is."""

    action_id: str
    root: Path
    directory: str  # relative to root: .goex/undo/<id>
    changes: list[Change]
    preimages: dict[str, str]

    def reversed_changes(self) -> list[Change]:
        """The changes an undo makes: each commit change turned around."""
        return [
            Change(c.path, REVERSED.get(c.kind, c.kind), c.after, c.before, c.binary)
            for c in self.changes
        ]


def load_record(root: Path, action_id: str) -> UndoRecord:
    """The undo record of a commit, or StateError when its pre-images are gone."""
    rel = undo_relpath(action_id)
    try:
        with opened_dir(root) as real_fd, opened_subdir(real_fd, rel) as undo_fd:
            raw = read_bytes(undo_fd, UNDO_RECORD, MAX_RECORD)
    except (FileNotFoundError, PathError):
        raw = None
    if raw is None:
        raise StateError(
            f"the pre-images of action {action_id} are gone from {root / rel} (removed by "
            "goex-fs gc?), so it cannot be undone"
        )
    try:
        data: dict[str, Any] = json.loads(raw)
        changes = [Change.from_json(c) for c in data["changes"]]
        preimages = {str(k): str(v) for k, v in data["preimages"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError(f"the undo record {root / rel / UNDO_RECORD} is damaged") from exc
    return UndoRecord(action_id, root, rel, changes, preimages)


def find_undo_conflicts(real_fd: int, changes: list[Change]) -> list[str]:
    """One ``"path: reason"`` per path that is no longer what the commit wrote."""
    by_path = {c.path: c for c in changes}
    paths = set(by_path)
    found: list[str] = []
    for change in sorted(changes, key=lambda c: sort_key(c.path)):
        if any(_not_dir_after(by_path.get(parent)) for parent in parents_of(change.path)):
            continue  # under a path the commit made a file or symlink: checked with it
        problem = drift(
            real_fd, change.path, change.after, since="since the commit", was="the commit made"
        )
        if problem is None and _created_dir(change):
            problem = _foreign_entries(real_fd, change.path, paths)
        if problem:
            found.append(f"{change.path}: {problem}")
    return found


def _not_dir_after(change: Change | None) -> bool:
    return change is not None and (change.after is None or change.after.type is not EntryType.DIR)


def _created_dir(change: Change) -> bool:
    after, before = change.after, change.before
    return (
        after is not None
        and after.type is EntryType.DIR
        and (before is None or before.type is not EntryType.DIR)
    )


def _foreign_entries(real_fd: int, rel: str, paths: set[str]) -> str | None:
    with opened_subdir(real_fd, rel) as fd:
        foreign = sorted(name for name in os.listdir(fd) if f"{rel}/{name}" not in paths)
    if not foreign:
        return None
    return f"holds entries the commit did not create ({', '.join(foreign[:5])})"


def check(record: UndoRecord, *, force: bool) -> None:
    """Refuse (ConflictError) an undo of paths that changed since the commit, unless ``force``."""
    with opened_dir(record.root) as real_fd:
        refuse_conflicts(record, find_undo_conflicts(real_fd, record.changes), force=force)


def refuse_conflicts(record: UndoRecord, conflicts: list[str], *, force: bool) -> None:
    if conflicts and not force:
        shown = "; ".join(conflicts[:10]) + ("; ..." if len(conflicts) > 10 else "")
        raise ConflictError(
            f"undo refused: {len(conflicts)} path(s) changed since action "
            f"{record.action_id} was committed, nothing was changed (--force puts them back "
            f"anyway): {shown}",
            path=conflicts[0].split(":", 1)[0],
            details=conflicts,
        )


def restore(record: UndoRecord, *, journal: Journal, action_id: str, force: bool) -> list[str]:
    """Check, journal an intent, and put every path back; returns the paths left (force)."""
    with (
        opened_dir(record.root) as real_fd,
        opened_subdir(real_fd, record.directory) as undo_fd,
    ):
        refuse_conflicts(record, find_undo_conflicts(real_fd, record.changes), force=force)
        fault_point("undo.checked")
        intent = journal.begin_intent(
            action_id,
            UNDO_STEP,
            {"root": str(record.root), "undoes": record.action_id, "force": force},
        )
        fault_point("undo.intent")
        left = converge(
            real_fd,
            undo_fd,
            backward(record.changes, record.preimages),
            prefix=tmp_prefix(action_id),
            force=force,
        )
        fault_point("undo.applied")
        journal.finish_intent(intent)
    return left
