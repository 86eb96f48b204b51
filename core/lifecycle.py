"""The one lifecycle both sides share: staged work is recorded, decided on, carried out.

* ``record_staged`` binds the digest of the code and its measured (redacted) effects and
  journals the action as staged;
* ``carry_out`` applies a decision: on commit it writes the commit intent to the journal first
  and finishes it after, so ``recover`` can always tell a half-done commit from a finished one;
* ``conclude`` is the two with ``review.decide`` between them;
* ``fail`` records an action that could not be staged.

A ``Work`` is what the side staged: a held transaction, a staged tree. If its ``commit`` fails,
it leaves itself in whatever state recovery needs (a failed transaction is rolled back by the
database; a half-applied tree keeps its staged copy and pre-images).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from core.action import Action, Decision, Status, Verdict
from core.errors import GoexError, PolicyRejected, StatementDenied
from core.journal import Journal
from core.llm import Model
from core.policy import Violation
from core.redact import Redactor
from core.review import Mode, Prompter, Review, decide


class Work(Protocol):
    """Staged work that can be made permanent or thrown away, exactly once."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


def record_staged(
    action: Action,
    effects: Mapping[str, Any],
    violations: Sequence[Violation],
    journal: Journal,
    redactor: Redactor,
) -> dict[str, Any]:
    """Journal the action as staged with its effects; returns them as recorded (redacted, with
    the violations), which is also what the digest binds."""
    recorded = redactor.redact_obj({**effects, "violations": [v.to_json() for v in violations]})
    action.bind(recorded)
    action.advance(Status.STAGED)
    journal.save(action)
    journal.set_effects(action.id, recorded)
    return dict(recorded)


def conclude(
    action: Action,
    work: Work,
    effects: Mapping[str, Any],
    violations: Sequence[Violation],
    *,
    mode: Mode,
    journal: Journal,
    redactor: Redactor,
    judge: Model | None = None,
    prompter: Prompter | None = None,
    show_details: Callable[[], None] | None = None,
    can_keep: bool = True,
    intent: Mapping[str, Any] | None = None,
    after_commit: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Record, review and finish staged work; returns the journaled (redacted) effects."""
    recorded = record_staged(action, effects, violations, journal, redactor)
    try:
        decision = decide(
            mode,
            Review(action, recorded, violations),
            judge=judge,
            prompter=prompter,
            show_details=show_details,
        )
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to report
            work.rollback()
        action.advance(Status.FAILED)
        journal.save(action)
        raise
    carry_out(
        action,
        decision,
        work,
        journal,
        can_keep=can_keep,
        intent=intent,
        after_commit=after_commit,
    )
    return recorded


def carry_out(
    action: Action,
    decision: Decision,
    work: Work,
    journal: Journal,
    *,
    can_keep: bool = True,
    intent: Mapping[str, Any] | None = None,
    after_commit: Callable[[], None] | None = None,
) -> Status:
    """Do what was decided. ``intent`` is kept with the commit intent (what ``recover`` would
    need to finish it); ``after_commit`` runs after the commit, before the intent is done."""
    if decision.verdict is Verdict.KEEP and not can_keep:
        decision = Decision(
            decision.by,
            Verdict.ROLLBACK,
            "this work cannot stay staged after the process ends, so rolled back",
            decision.digest,
        )
    action.decide(decision)
    if decision.verdict is Verdict.KEEP:
        journal.save(action)
        return action.status
    if decision.verdict is not Verdict.COMMIT:
        work.rollback()
        action.advance(
            Status.REJECTED if decision.verdict is Verdict.REJECT else Status.ROLLED_BACK
        )
        journal.save(action)
        return action.status
    begun = journal.begin_intent(action.id, "commit", {"digest": action.digest, **(intent or {})})
    try:
        work.commit()
    except BaseException:
        # The failure is known and recorded; what a half-done commit needs to be recovered is
        # the work's own business (a database rolls back; a tree keeps its apply intent).
        action.advance(Status.FAILED)
        journal.save(action)
        journal.finish_intent(begun)
        raise
    action.advance(Status.COMMITTED)
    journal.save(action)
    if after_commit is not None:
        after_commit()
    journal.finish_intent(begun)
    return action.status


def fail(
    action: Action, journal: Journal, error: GoexError, redactor: Redactor | None = None
) -> None:
    """Journal an action that never got staged: refused before running, or failed running."""
    rejected = isinstance(error, StatementDenied | PolicyRejected)
    action.advance(Status.REJECTED if rejected else Status.FAILED)
    journal.save(action)
    message = (redactor or Redactor()).redact(error.message)
    journal.set_effects(action.id, {"error": message, "error_type": type(error).__name__})
