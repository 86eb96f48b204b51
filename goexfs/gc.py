"""gc: remove staged copies and pre-images that goex no longer needs or that are past budget.

What lives in ``<root>/.goex/``: a staged copy per action in ``staged/`` and the pre-images of
each commit in ``undo/<id>/``. ``collect`` removes, in this order:

1. **garbage**, whatever its age: staged copies whose action is over (committed, rolled back,
   rejected, failed — left behind by a crash or a failed clean-up) and pre-images of actions
   that can no longer be undone (never committed, or already undone);
2. **past the age budget** (``[fs] gc_max_age_days``, default 14): kept stagings — the action
   is then rolled back, decided by ``gc`` — and pre-images of committed actions, which can no
   longer be undone afterwards;
3. **past the size budget** (``[fs] gc_max_bytes``, default 1 GiB): the oldest remaining
   pre-images, until what is left fits.

Never removed: anything of an action with a pending intent (``recover`` needs it), a kept
staging younger than the age budget (also when over the size budget), the staged copy of an
action a live process holds for a person, and a staged copy younger than the age budget that
no finished action owns (a run still in progress).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.action import Action, Kind, Status
from core.errors import StateError
from core.journal import Journal, holder_gone
from goexfs.apply.lock import project_lock
from goexfs.apply.recover import pending_actions
from goexfs.backends import rollback_staging
from goexfs.backends.staging import remove_tree
from goexfs.project import STAGING_DIR
from goexfs.session import recorded
from goexfs.tree.paths import INTERNAL_DIR

DAY = 86_400.0
SCAN_LIMIT = 100_000  # actions of a project gc looks at


@dataclass(frozen=True)
class Item:
    """One staged copy or one set of pre-images, with what gc decided about it."""

    kind: str  # staged | preimages
    path: Path
    action_id: str | None
    size: int
    mtime: float

    def to_json(self, reason: str) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": str(self.path),
            "action": self.action_id,
            "bytes": self.size,
            "reason": reason,
        }


@dataclass(frozen=True)
class Freed:
    item: Item
    reason: str


def collect(
    root: Path,
    journal: Journal,
    *,
    max_age_days: float,
    max_bytes: int,
    now: float | None = None,
) -> list[Freed]:
    """Remove what the module docstring lists; returns what was removed and why."""
    with project_lock(root):
        return _collect(root, journal, max_age_days, max_bytes, now)


def _collect(
    root: Path, journal: Journal, max_age_days: float, max_bytes: int, now: float | None
) -> list[Freed]:
    now = time.time() if now is None else now
    cutoff = now - max_age_days * DAY
    pending = set(pending_actions(journal, root))
    owners = _staging_owners(journal, root)
    freed: list[Freed] = []
    remaining: list[Item] = []
    for item in _items(root, owners):
        if item.action_id in pending:
            continue
        reason = _reason(journal, item, cutoff)
        if reason is None:
            remaining.append(item)
            continue
        _remove(root, journal, item)
        freed.append(Freed(item, reason))
    total = sum(item.size for item in remaining)
    for item in sorted(remaining, key=lambda i: i.mtime):
        if total <= max_bytes:
            break
        if item.kind != "preimages":
            continue  # young kept stagings and runs in progress stay whatever their size
        _remove(root, journal, item)
        freed.append(Freed(item, f"over the size budget of {max_bytes} bytes"))
        total -= item.size
    return freed


def _reason(journal: Journal, item: Item, cutoff: float) -> str | None:
    old = item.mtime < cutoff
    if item.action_id is None:
        return "staged copy of no action, older than the age budget" if old else None
    try:
        action = journal.get(item.action_id)
    except StateError:  # pre-images whose action is not in this journal
        return "pre-images of no action in the journal, older than the age budget" if old else None
    if item.kind == "staged":
        if _kept(journal, action):
            return "kept staging older than the age budget" if old else None
        waiting = journal.waiting_for(action.id)
        if waiting is not None and waiting.holder and not holder_gone(waiting.holder):
            return None  # a live process holds it, waiting for a person
        if action.status in (Status.PROPOSED, Status.STAGED):
            return "staged copy of an unfinished run, older than the age budget" if old else None
        return f"staged copy of a {action.status.value} action"
    if action.status is not Status.COMMITTED:
        return f"pre-images of a {action.status.value} action"
    return "pre-images older than the age budget" if old else None


def _kept(journal: Journal, action: Action) -> bool:
    waiting = journal.waiting_for(action.id)
    return waiting is not None and waiting.kept


def _remove(root: Path, journal: Journal, item: Item) -> None:
    if item.kind == "staged" and item.action_id is not None:
        action = journal.get(item.action_id)
        if _kept(journal, action):
            staged = recorded(root, journal, action)
            staged.location = item.path
            staged.rollback(by="gc", reason="kept staged past the age budget")
            return
    if item.kind == "staged":
        rollback_staging(item.path)
    else:
        remove_tree(item.path)


def _staging_owners(journal: Journal, root: Path) -> dict[str, str]:
    """staged-copy location -> id of the action it belongs to."""
    owners: dict[str, str] = {}
    for action in journal.recent(Kind.FS, SCAN_LIMIT, str(root)):
        effects = journal.effects(action.id) or {}
        location = (effects.get("stage") or {}).get("location")
        if location:
            owners[os.path.normpath(location)] = action.id
    return owners


def _items(root: Path, owners: dict[str, str]) -> Iterator[Item]:
    internal = root / INTERNAL_DIR
    for kind, parent in (("staged", internal / STAGING_DIR), ("preimages", internal / "undo")):
        try:
            entries = sorted(os.scandir(parent), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            owner = owners.get(os.path.normpath(path)) if kind == "staged" else entry.name
            info = entry.stat(follow_symlinks=False)
            yield Item(kind, path, owner, _size(path), info.st_mtime)


def _size(path: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total
