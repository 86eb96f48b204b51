"""The one lifecycle both sides share: staged work is reviewed, then committed or discarded.

``conclude`` takes an action whose work is staged and measured, binds the digest, journals the
staged state, asks ``review.decide``, and carries the verdict out — writing the commit intent to
the journal before the commit and finishing it after, so ``recover`` can always tell a half-done
commit from a finished one. ``fail`` records an action that could not be staged.
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
    """Review and finish staged work; returns the journaled (redacted) effects.

    ``intent`` is kept with the commit intent (what ``recover`` would need to finish it);
    ``after_commit`` runs after the commit and before the intent is marked done.
    """
    recorded = redactor.redact_obj({**effects, "violations": [v.to_json() for v in violations]})
    action.bind(recorded)
    action.advance(Status.STAGED)
    journal.save(action)
    journal.set_effects(action.id, recorded)
    try:
        decision = decide(
            mode,
            Review(action, recorded, violations),
            judge=judge,
            prompter=prompter,
            show_details=show_details,
        )
        if decision.verdict is Verdict.KEEP and not can_keep:
            decision = Decision(
                decision.by,
                Verdict.ROLLBACK,
                "this work cannot stay staged after the process ends, so rolled back",
                decision.digest,
            )
        action.decide(decision)
        _carry_out(action, work, journal, intent or {}, after_commit)
    except BaseException:
        _discard_quietly(work)
        if not action.status.is_final and action.status is not Status.COMMITTED:
            action.advance(Status.FAILED)
        journal.save(action)
        raise
    return dict(recorded)


def _carry_out(
    action: Action,
    work: Work,
    journal: Journal,
    intent: Mapping[str, Any],
    after_commit: Callable[[], None] | None,
) -> None:
    assert action.decision is not None
    verdict = action.decision.verdict
    if verdict is Verdict.COMMIT:
        begun = journal.begin_intent(action.id, "commit", {"digest": action.digest, **intent})
        work.commit()
        action.advance(Status.COMMITTED)
        journal.save(action)
        if after_commit is not None:
            after_commit()
        journal.finish_intent(begun)
        return
    if verdict is Verdict.KEEP:
        journal.save(action)
        return
    work.rollback()
    action.advance(Status.ROLLED_BACK if verdict is Verdict.ROLLBACK else Status.REJECTED)
    journal.save(action)


def fail(action: Action, journal: Journal, error: GoexError) -> None:
    """Journal an action that never got staged: refused before running, or failed running."""
    rejected = isinstance(error, StatementDenied | PolicyRejected)
    action.advance(Status.REJECTED if rejected else Status.FAILED)
    journal.save(action)
    journal.set_effects(action.id, {"error": error.message, "error_type": type(error).__name__})


def _discard_quietly(work: Work) -> None:
    """Roll back after a failure without hiding the original error (cf. psycopg)."""
    with contextlib.suppress(Exception):
        work.rollback()
