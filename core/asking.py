"""Asking a person through the journal's queue (``core.lifecycle``): an action joins the queue
held by this process until a deadline; its answer is a person's decision, or past the deadline
the rollback of the timeout (recorded as the answer, unless a person answered first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.action import Action, Decision, Verdict
from core.errors import StateError
from core.journal import Journal, this_holder
from core.notify import announce_waiting


def ask_person(journal: Journal, action: Action, timeout: float) -> datetime:
    """Join the journal's queue, held by this process until ``timeout`` seconds from now, and
    send word of it (``[review] webhook``)."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    journal.wait_for(action.id, holder=this_holder(), deadline=deadline.isoformat())
    announce_waiting(action, deadline.isoformat())
    return deadline


def wait_kept(journal: Journal, action: Action) -> None:
    """Join the journal's queue kept (no process holds it, no deadline), and send word of it."""
    journal.wait_for(action.id, holder=None, deadline=None)
    announce_waiting(action, None)


def answer_by(journal: Journal, action_id: str, digest: str, deadline: datetime) -> Decision | None:
    answer = journal.answer_of(action_id)
    if answer is not None or datetime.now(UTC) < deadline:
        return answer
    expired = Decision(
        "timeout",
        Verdict.ROLLBACK,
        f"no decision by {deadline:%Y-%m-%d %H:%M:%S} UTC ([review] timeout), so rolled back",
        digest,
    )
    try:
        journal.answer(action_id, expired, holder=this_holder())
    except StateError:  # a person answered first: theirs stands
        return journal.answer_of(action_id)
    return expired
