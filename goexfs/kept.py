"""Actions kept staged (``--decide keep``): list them, pick them up again, commit or discard.

A kept action is ``staged`` in the journal with a ``keep`` decision, and its staged copy stays
in ``<root>/.goex/staged/`` with what the backend needs to rebuild it
(``goexfs.backends.resume``). Picking it up measures the staged copy again and refuses it unless
it still shows exactly the changes that were reviewed (invariant 5).

**Selective commit** (``commit_kept`` with paths): only the changes at those paths and under
them are applied — plus the directories they need that the action created — after policy has
judged that subset again. The commit is final: the action becomes ``committed`` with the
subset recorded (in its decision, its commit intent and its undo record), and the rest of the
staged copy is discarded. (Keeping the rest around would mean a staged copy whose base no
longer matches the real directory; run the action again for more.)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.action import Action, Decision, Kind, Status, Verdict
from core.errors import ConflictError, GoexError, StateError, UsageError
from core.journal import Journal
from core.lifecycle import carry_out
from core.policy import Severity, Violation
from goexfs.apply.lock import project_lock
from goexfs.backends import resume
from goexfs.backends.staging import remove_tree
from goexfs.sandbox.bwrap import SandboxResult
from goexfs.session import FsRun, StagedTree
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.manifest import EntryType
from goexfs.tree.paths import normalize, parents_of

SCAN_LIMIT = 100_000


def is_kept(action: Action) -> bool:
    decision = action.decision
    return (
        action.status is Status.STAGED and decision is not None and decision.verdict is Verdict.KEEP
    )


def kept_actions(journal: Journal, root: Path) -> list[Action]:
    """The actions on root kept staged, newest first."""
    return [a for a in journal.recent(Kind.FS, SCAN_LIMIT, str(root)) if is_kept(a)]


def kept_action(journal: Journal, root: Path, action_id: str) -> Action:
    action = journal.get(action_id)
    if action.kind is not Kind.FS or action.target != str(root):
        raise StateError(f"action {action.id} did not stage {root}")
    if not is_kept(action):
        raise StateError(
            f"action {action.id} is {action.status.value}, not kept staged; `goex-fs list` "
            "shows the ones that are"
        )
    return action


def load_kept(journal: Journal, root: Path, action_id: str) -> FsRun:
    """A kept action with its staged copy, measured again and checked against the review."""
    action = kept_action(journal, root, action_id)
    effects = journal.effects(action.id) or {}
    location = (effects.get("stage") or {}).get("location")
    if not location:
        raise StateError(f"action {action.id} has no staged copy recorded")
    staged = resume(Path(location))
    changes = staged.changes()
    if _identities(c.to_json() for c in changes) != _identities(effects.get("changes", [])):
        raise ConflictError(
            f"the staged copy of action {action.id} no longer holds what was reviewed; roll it "
            "back with goex-fs rollback",
        )
    output = effects.get("output") or {}
    result = SandboxResult(
        exit_status=int(effects.get("exit_status", 0)),
        stdout=str(output.get("stdout", "")),
        stderr=str(output.get("stderr", "")),
        truncated=bool(output.get("truncated", False)),
        sandbox=str(effects.get("sandbox", "")),
    )
    violations = [
        Violation(v["rule"], Severity(v["severity"]), v["message"])
        for v in effects.get("violations", [])
    ]
    return FsRun(action, staged, result, changes, violations, effects)


def _identities(changes: Iterable[Mapping[str, Any]]) -> set[tuple[Any, ...]]:
    """What a change is, without its diff text or timestamps (which review does not bind)."""

    def entry(data: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
        if data is None:
            return None
        return (
            data["type"],
            data["mode"],
            data.get("size"),
            data.get("sha256"),
            data.get("target"),
        )

    return {(c["path"], c["kind"], entry(c.get("before")), entry(c.get("after"))) for c in changes}


def select(changes: Sequence[Change], paths: Sequence[str]) -> list[Change]:
    """The changes at paths and under them, plus the new directories they need."""
    wanted = [normalize(p) for p in paths]
    by_path = {c.path: c for c in changes}
    chosen: set[str] = set()
    for path in wanted:
        hits = [c.path for c in changes if c.path == path or c.path.startswith(path + "/")]
        if not hits:
            raise UsageError(f"{path} is not among the changes of this action")
        chosen.update(hits)
    for path in list(chosen):
        for parent in parents_of(path):
            change = by_path.get(parent)
            if change is not None and _creates_dir(change):
                chosen.add(parent)
    return [c for c in changes if c.path in chosen]


def _creates_dir(change: Change) -> bool:
    after = change.after
    return (
        after is not None
        and after.type is EntryType.DIR
        and change.kind in (ChangeKind.ADDED, ChangeKind.TYPE)
    )


def commit_kept(
    run: FsRun, journal: Journal, changes: Sequence[Change] | None = None, *, by: str = "user"
) -> Status:
    """Commit a kept action — all of it, or only ``changes`` (see the module docstring)."""
    with project_lock(run.staged.root):
        kept_action(journal, run.staged.root, run.action.id)  # still kept, now that we hold it
        return _commit(run, journal, changes, by)


def _commit(run: FsRun, journal: Journal, changes: Sequence[Change] | None, by: str) -> Status:
    chosen = list(run.changes if changes is None else changes)
    assert run.action.digest is not None
    reason = "goex-fs commit"
    if len(chosen) != len(run.changes):
        listed = ", ".join(c.path for c in chosen[:10]) + (", ..." if len(chosen) > 10 else "")
        reason += f" of {len(chosen)} of {len(run.changes)} changes: {listed}"
    run.changes = chosen
    decision = Decision(by, Verdict.COMMIT, reason, run.action.digest)
    return carry_out(
        run.action,
        decision,
        StagedTree(run, journal),
        journal,
        intent={"paths": [c.path for c in chosen]},
    )


def rollback_kept(journal: Journal, root: Path, action_id: str, *, by: str = "user") -> Action:
    """Discard a kept action's staged copy (gone already is fine); the root is never touched."""
    with project_lock(root):
        return _rollback(journal, root, action_id, by)


def _rollback(journal: Journal, root: Path, action_id: str, by: str) -> Action:
    action = kept_action(journal, root, action_id)
    effects = journal.effects(action.id) or {}
    location = (effects.get("stage") or {}).get("location")
    assert action.digest is not None
    decision = Decision(by, Verdict.ROLLBACK, "goex-fs rollback", action.digest)
    carry_out(action, decision, Discard(Path(location) if location else None), journal)
    return action


def rollback_staging(location: Path | None) -> None:
    """Remove a staged copy the way its backend needs (resumed, then rolled back), or plainly when
    it can no longer be resumed; one that is gone already is fine."""
    if location is None or not os.path.lexists(location):
        return
    try:
        resume(location).rollback()
    except GoexError:
        remove_tree(location)


@dataclass(frozen=True)
class Discard:
    """A staged copy as the lifecycle's Work when all that can happen to it is discarding."""

    location: Path | None

    def commit(self) -> None:  # pragma: no cover - only ever given a rollback decision
        raise StateError("a staged copy being discarded cannot be committed")

    def rollback(self) -> None:
        rollback_staging(self.location)
