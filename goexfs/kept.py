"""Kept actions and selective commits: what picking a kept action up again and committing
part of an action rely on.

A kept action (``--decide keep``, ``k`` at the prompt, or a finding that needs a person) is
``staged`` in the journal and waits in its queue, and its staged copy stays in
``<root>/.goex/staged/`` with what the backend needs to rebuild it (``goexfs.backends.resume``).
``goexfs.session.reopen`` picks it up: it measures the staged copy again and refuses it unless
it still shows exactly the changes that were reviewed (``identities``; invariant 5).

**Selective commit** (a decision with paths): only the changes at those paths and under them
are applied — plus the directories they need that the action created (``select``) — after
policy has judged that subset again (``judge_selection``). The commit is final: the action
becomes ``committed`` with the subset recorded (in its decision, its commit intent and its undo
record), and the rest of the staged copy is thrown away. (Keeping the rest around would mean a
staged copy whose base no longer matches the real directory; run the action again for more.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.errors import UsageError
from core.policy import PolicySettings, Violation, evaluate, refuse_errors
from goexfs.rules import RULES
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.manifest import EntryType
from goexfs.tree.paths import normalize, parents_of


def identities(changes: Iterable[Mapping[str, Any]]) -> set[tuple[Any, ...]]:
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


def judge_selection(
    changes: Sequence[Change], paths: Sequence[str], policy: PolicySettings, action_id: str
) -> tuple[list[Change], list[Violation]]:
    """The changes a commit of ``paths`` applies, and policy's findings on them; refused
    (PolicyRejected) when a rule finds an error in what would be committed."""
    chosen = select(changes, paths) if paths else list(changes)
    violations = evaluate(RULES, chosen, policy)
    refuse_errors(violations, action_id)
    return chosen, violations
