"""One staged action held behind a handle, decided by the server's decider — never by the agent.

The agent asks (``commit``); the configured decider answers: ``policy`` commits when no rule
found an error or something a person must see, ``llm`` asks the judge, ``person`` waits for a
decision recorded from another process (``goex-db approve``/``reject``, ``goex-fs
approve``/``reject``). What needs a person under ``policy`` or ``llm`` waits for one too (the
server holds the action, so it need not roll it back). While a person has not decided the call
answers ``pending``; the handle's sweeper carries the decision out as soon as it is recorded,
and asking again gives the outcome — the same outcome however often it is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core import lifecycle
from core.action import Decision, Mode, Status, Verdict
from core.errors import GoexError, StateError
from core.llm import Model


@dataclass(frozen=True)
class Decider:
    """Who decides the server's actions (``--commit``), and how a person is told to."""

    mode: Mode
    judge: Model | None = None
    timeout: float = 900.0  # [review] timeout: how long a person may take


class HeldAction:
    """A ``core.lifecycle.Staged`` held by the server for its agent (``core.mcp.handles.Work``).

    ``release`` closes what the action held open (its connection, its journal) once it has
    ended; ``decide_hint`` says, for a pending action, how a person decides it."""

    def __init__(
        self,
        staged: lifecycle.Staged,
        decider: Decider,
        release: Callable[[], None],
        decide_hint: str,
    ) -> None:
        self.staged = staged
        self.decider = decider
        self.outcome: dict[str, Any] | None = None
        self.pending = False
        self._release = release
        self._hint = decide_hint
        self._paths: tuple[str, ...] = ()
        self._deadline: datetime | None = None

    @property
    def action_id(self) -> str:
        return self.staged.action.id

    def commit(self, paths: Sequence[str] = ()) -> dict[str, Any]:
        """Ask the decider to commit (``paths``: only these, for a file action)."""
        if self.outcome is not None:
            return self.outcome
        if self.pending:
            self.poll()
            return self.outcome or self._pending()
        self._paths = tuple(paths)
        decision = self._submit(self.decider.mode)
        if decision is not None and decision.verdict is Verdict.KEEP:
            decision = self._submit(Mode.PERSON)  # needs a person: the server holds it for one
        if decision is None:
            self.pending = True
            return self._pending()
        return self._carry_out(decision)

    def rollback(
        self, *, by: str = "agent", reason: str = "rolled back by the agent"
    ) -> dict[str, Any]:
        """Roll back: the agent may always withdraw its own action, even while it waits —
        unless a person decided it first, whose decision then stands."""
        if self.pending:
            with suppress(GoexError):  # a decider that failed ended the action: its outcome
                self.poll()
        if self.outcome is not None:
            return self.outcome
        return self._carry_out(Decision(by, Verdict.ROLLBACK, reason, self.staged.digest))

    def poll(self) -> None:
        if self.outcome is None and self.pending:
            answer = self._guarded(self.staged.answer)
            if answer is not None:
                self._carry_out(answer)

    def expire(self, why: str) -> None:
        self.rollback(by="lease", reason=f"rolled back: {why}")

    def close(self, why: str) -> None:
        try:
            if self.outcome is None:
                self.rollback(by="server", reason=f"rolled back: {why}")
        finally:
            self._release()

    def _submit(self, mode: Mode) -> Decision | None:
        return self._guarded(
            lambda: self.staged.submit(mode, judge=self.decider.judge, timeout=self.decider.timeout)
        )

    def _guarded(self, step: Callable[[], Decision | None]) -> Decision | None:
        """A decider that fails ends the action failed (``core.lifecycle``): that is its
        outcome, and the failure is raised."""
        try:
            return step()
        except GoexError as exc:
            self.ended_by(exc)
            raise

    def _carry_out(self, decision: Decision) -> dict[str, Any]:
        if self._paths and decision.verdict is Verdict.COMMIT and not decision.paths:
            decision = replace(decision, paths=self._paths)
        try:
            self.staged.carry_out(decision)
        except GoexError as exc:
            # not carried out (not even begun, when another process recorded a decision first):
            # this server holds the work, and nobody else can end it
            self.staged.abandon(exc)
            return self.ended_by(exc)
        return self.ended_by(None)

    def ended_by(self, error: GoexError | None) -> dict[str, Any]:
        """The outcome of the action, now ended (``error``: what ended it, if it failed)."""
        action = self.staged.action
        if action.status in (Status.PROPOSED, Status.STAGED) and error is None:
            raise StateError(f"action {action.id} is {action.status.value}, not ended")
        decision = action.decision
        outcome: dict[str, Any] = {"action_id": action.id, "status": action.status.value}
        if decision is not None:
            outcome["decision"] = {
                "by": decision.by,
                "verdict": decision.verdict.value,
                "reason": self.staged.redactor.redact(decision.reason),
            }
        if error is not None:
            outcome["error"] = self.staged.redactor.redact(error.message)
        if action.status is Status.COMMITTED and self.staged.reversible:
            outcome["undo"] = f"undo(action_id={action.id!r}) reverses it"
        self.outcome, self.pending = outcome, False
        self._release()
        return outcome

    def _pending(self) -> dict[str, Any]:
        waiting = self.staged.journal.waiting_for(self.action_id)
        return {
            "action_id": self.action_id,
            "status": "pending",
            "waiting_until": None if waiting is None else waiting.deadline,
            "how_to_decide": self._hint.format(id=self.action_id),
            "then": "call this tool again with the same handle for the outcome",
        }
