"""recover: finish or revert a commit or undo that a crash interrupted.

Every commit and undo journals an intent before it touches the directory and finishes it after
(``goexfs.apply.commit``, ``goexfs.apply.undo``); an intent still pending means the process died
in between. ``recover`` brings every path of such an action to one end state with the same
idempotent walk the commit uses (``goexfs.apply.converge``), so the directory ends byte for
byte — contents, modes, symlinks — in exactly its before-state or its after-state. The rule,
deterministic:

* **an undo is always finished** (rolled forward): the pre-images it restores stay on disk
  until it is done, so finishing is always possible;
* **a commit whose apply had begun** (its ``fs.commit`` intent is pending) is **rolled
  forward** when the action was still being committed and its staged copy still holds exactly
  what was reviewed — the decision was commit, and recover honours it; otherwise (the staged
  copy is gone or differs, or the commit had already failed) it is **rolled back** from its
  pre-images, which were complete before the intent was written;
* **a commit or undo that died before its apply began** changed nothing: the action is marked
  failed;
* one that finished applying but died before recording its status gets its status recorded.

Afterwards the action is ``committed`` (the original of an undo ``undone``) or ``failed``, its
staged copy is discarded, and its intents are finished. Until then, every goex-fs command that
would commit refuses to start (``ensure_nothing_pending``).

If someone changed the action's paths between the crash and ``recover``, their edits are
overwritten (the paths must reach an end state); a directory that must go but holds their new
files is left in place and reported.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.action import Status
from core.errors import GoexError, StateError
from core.journal import Journal
from goexfs.apply.commit import COMMIT_STEP, undo_dir_for, verify_staged
from goexfs.apply.converge import backward, converge, forward, tmp_prefix
from goexfs.apply.lock import project_lock
from goexfs.apply.safefs import opened_dir, opened_subdir
from goexfs.apply.undo import UNDO_STEP, UndoRecord, load_record
from goexfs.backends import resume, rollback_staging
from goexfs.backends.staging import remove_tree

APPLY_STEPS = (COMMIT_STEP, UNDO_STEP)


@dataclass
class Recovered:
    """What recover did for one action."""

    action_id: str
    step: str  # commit | undo
    outcome: str  # rolled forward | rolled back | nothing was applied | already applied
    status: Status
    left: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.action_id,
            "step": self.step,
            "outcome": self.outcome,
            "status": self.status.value,
            "left": self.left,
        }


def pending_actions(journal: Journal, root: Path) -> list[str]:
    """Ids of the actions on root with an intent begun and never finished, oldest first."""
    ids: list[str] = []
    for _, action_id, _, _ in journal.pending_intents():
        if action_id not in ids and journal.get(action_id).target == str(root):
            ids.append(action_id)
    return ids


def ensure_nothing_pending(journal: Journal, root: Path) -> None:
    """Refuse (StateError) to start a commit while an interrupted one waits for recover.

    A commit still running in another process is waited for (it holds the project lock), so
    only one that nobody will finish is reported."""
    with project_lock(root):
        pending = pending_actions(journal, root)
    if pending:
        raise StateError(
            f"a commit or undo of action {pending[0]} in {root} was interrupted; run "
            "goex-fs recover first, so the directory is in a known state"
        )


def recover(root: Path, journal: Journal) -> list[Recovered]:
    """Finish or revert every interrupted commit and undo on root (module docstring)."""
    with project_lock(root):
        return [_recover(root, journal, action_id) for action_id in pending_actions(journal, root)]


def _recover(root: Path, journal: Journal, action_id: str) -> Recovered:
    action = journal.get(action_id)
    effects = journal.effects(action_id) or {}
    original_id = effects.get("undoes")
    step = "undo" if original_id else "commit"
    applying = [intent for intent in journal.intents_of(action_id) if intent[1] in APPLY_STEPS]
    left: list[str] = []
    if applying and not applying[-1][3]:
        intent_id, _, data, _ = applying[-1]
        if original_id:
            left = _converge(root, load_record(root, str(original_id)), action_id, None)
            applied, outcome = True, "rolled forward"
        else:
            applied, left = _finish_commit(root, action_id, data, action.status)
            outcome = "rolled forward" if applied else "rolled back"
        journal.finish_intent(intent_id)
    elif applying:
        applied, outcome = True, "already applied"
    else:
        applied, outcome = False, "nothing was applied"
    if action.status is Status.STAGED:
        action.advance(Status.COMMITTED if applied else Status.FAILED)
        journal.save(action)
    if applied and original_id:
        original = journal.get(str(original_id))
        if original.status is Status.COMMITTED:
            original.advance(Status.UNDONE)
            journal.save(original)
    if not original_id:
        location = (effects.get("stage") or {}).get("location")
        rollback_staging(Path(location) if location else None)
        if not applied:  # pre-images of a commit that never happened
            remove_tree(undo_dir_for(root, action_id))
    for intent_id, pending_id, _, _ in journal.pending_intents():
        if pending_id == action_id:
            journal.finish_intent(intent_id)
    return Recovered(action_id, step, outcome, action.status, left)


def _finish_commit(
    root: Path, action_id: str, data: dict[str, Any], status: Status
) -> tuple[bool, list[str]]:
    """Roll an interrupted commit forward if its staged copy is intact, else back."""
    record = load_record(root, action_id)
    if status is Status.STAGED and data.get("staged"):
        with ExitStack() as stack:
            try:
                staged = resume(Path(str(data["staged"])))
                tree_fd = stack.enter_context(opened_dir(staged.view))
                verify_staged(tree_fd, record.changes)
            except GoexError:
                pass  # gone or not what was reviewed: roll back below
            else:
                return True, _converge(root, record, action_id, tree_fd)
    return False, _converge(root, record, action_id, None)


def _converge(root: Path, record: UndoRecord, action_id: str, tree_fd: int | None) -> list[str]:
    """Forward from the staged tree when tree_fd is given, else back from the pre-images."""
    with opened_dir(root) as real_fd, opened_subdir(real_fd, record.directory) as undo_fd:
        if tree_fd is not None:
            targets, source = forward(record.changes), tree_fd
        else:
            targets, source = backward(record.changes, record.preimages), undo_fd
        return converge(real_fd, source, targets, prefix=tmp_prefix(action_id), force=True)
