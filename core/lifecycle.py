"""The one pipeline every front end uses: stage → evaluate → record → decide → carry out.

Each side subclasses ``Staged`` (``goexdb.Staged``, ``goexfs.Staged``) with how its work is
made permanent, thrown away or kept; everything else happens here, the same way for both:

* ``being_staged()`` surrounds the side's staging: the action is journaled as proposed first,
  and a failure (journaled ``failed``, or ``rejected`` when refused) or an interrupt
  (``rolled_back``) throws the work away and is recorded before it propagates;
* ``record()`` binds the digest of the code and its measured (redacted) effects and policy
  findings, and journals the action as staged;
* ``decide(mode)`` asks the decider (``core.review``); ``person`` waits on the journal
  (``core.asking``), at most ``timeout`` seconds; ``submit()``/``answer()`` without waiting;
* ``carry_out(decision)`` (and ``commit()``, ``rollback()``, ``keep()``): a commit journals its
  intent first and finishes it after, so ``recover`` tells a half-done commit from a finished
  one; a kept action joins the journal's queue for a later process (each side's ``reopen``).

SIGINT and SIGTERM (``core.interrupt``) before the commit roll the work back (journaled
``rolled_back``, "interrupted"); during the commit they wait until it is finished.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import datetime
from typing import Any, ClassVar

from core.action import Action, Decision, Kind, Mode, Status, Verdict
from core.asking import answer_by, ask_person, wait_kept
from core.errors import (
    GoexError,
    Interrupted,
    OutcomeUnknown,
    PolicyRejected,
    StateError,
    StatementDenied,
    UsageError,
)
from core.interrupt import deferred, signal_name
from core.journal import Journal, this_holder
from core.llm import Model
from core.policy import Violation
from core.redact import Redactor
from core.review import Prompter, Review, decide

POLL_SECONDS = 0.2  # how often a held action looks for a person's decision


class Staged(ABC):
    """One action whose work is staged and measured, waiting for its decision.

    A side provides ``_commit_work`` and ``_rollback_work``; where it needs them,
    ``_after_commit`` (clean-up once committed), ``can_keep`` and ``_keep_work`` (work that
    outlives the process), ``takes_paths``, ``_exclusive`` (a lock held while a decision is
    carried out), ``_commit_intent`` and ``unchanged`` (what a rollback leaves, in words)."""

    kind: ClassVar[Kind]

    def __init__(self, action: Action, journal: Journal, redactor: Redactor) -> None:
        self.action = action
        self.journal = journal
        self.redactor = redactor
        self.recorded: dict[str, Any] = {}  # the journaled effects the digest binds
        self.violations: list[Violation] = []
        self.undoes: Action | None = None  # the committed action this one undoes
        self.reopened = False  # picked up from the journal's queue, where it must still be

    # -- what a side provides ------------------------------------------------------------------

    @abstractmethod
    def _commit_work(self, decision: Decision) -> None:
        """Make the staged work permanent. On failure, leave what recovery needs."""

    @abstractmethod
    def _rollback_work(self) -> None:
        """Throw the staged work away (idempotent: it may not exist yet)."""

    @property
    def can_keep(self) -> bool:
        """Whether the staged work can outlive this process (a kept clone or staged tree)."""
        return False

    def _keep_work(self) -> None:
        """Make the staged work last past this process."""
        return None

    def _after_commit(self) -> None:
        """Clean-up once the commit is journaled (a staged copy removed, undo data kept): a
        failure here is reported, and the action stays committed."""
        return None

    @property
    def takes_paths(self) -> bool:
        """Whether a commit can be narrowed to some paths (file actions)."""
        return False

    def _exclusive(self) -> AbstractContextManager[None]:
        """Held while a decision is carried out (a project's lock)."""
        return nullcontext()

    def _commit_intent(self, decision: Decision) -> dict[str, Any]:
        """What ``recover`` would need to finish the commit, kept with its intent."""
        return {}

    @property
    def unchanged(self) -> str:
        """What a rollback leaves, in words ("the database was not changed")."""
        return "nothing was changed"

    # -- the pipeline --------------------------------------------------------------------------

    @property
    def digest(self) -> str:
        if self.action.digest is None:
            raise StateError(f"action {self.action.id} has no measured effects yet")
        return self.action.digest

    @property
    def status(self) -> Status:
        return self.action.status

    @property
    def reversible(self) -> bool:
        return bool(self.recorded.get("reversible", False))

    def review(self) -> Review:
        return Review(self.action, self.recorded, self.violations)

    @contextmanager
    def being_staged(self) -> Iterator[None]:
        """Around the side's staging (see the module docstring)."""
        self.journal.save(self.action)
        with self._failing():
            yield

    def record(self, effects: Mapping[str, Any], violations: Sequence[Violation]) -> None:
        """Journal the action as staged with its effects and findings, which the digest binds.
        A staged action recorded again (more work staged into it, ``staging_more``) is bound
        to its new code and effects: a decision made on the old digest no longer applies."""
        self.violations = list(violations)
        recorded = self.redactor.redact_obj(
            {**effects, "violations": [v.to_json() for v in violations]}
        )
        self.recorded = dict(recorded)
        self.action.bind(self.recorded)
        if self.action.status is not Status.STAGED:
            self.action.advance(Status.STAGED)
        self.journal.save(self.action)
        self.journal.set_effects(self.action.id, self.recorded)

    @contextmanager
    def staging_more(self) -> Iterator[None]:
        """Around more work staged into a staged action (an agent's next step in the same held
        transaction): a failure the side did not confine throws all the work away and journals
        the action failed, as in ``being_staged``."""
        if self.action.status is not Status.STAGED or self.journal.waiting_for(self.action.id):
            raise StateError(
                f"action {self.action.id} is {self.action.status.value} or waits for a decision; "
                "no more work can be staged into it"
            )
        with self._failing():
            yield

    def decide(
        self,
        mode: Mode,
        *,
        judge: Model | None = None,
        prompter: Prompter | None = None,
        show_details: Callable[[], None] | None = None,
        timeout: float = 900.0,
        on_wait: Callable[[datetime], None] | None = None,
    ) -> Decision:
        """The configured decider's decision; ``person`` waits for one (module docstring),
        calling ``on_wait(deadline)`` once it waits. A decider that fails (no judge model
        configured, the journal unwritable) leaves nothing held: the action fails."""
        with self._failing():
            return decide(
                mode,
                self.review(),
                judge=judge,
                prompter=prompter,
                show_details=show_details,
                wait=lambda: self._wait_for_person(timeout, on_wait),
            )

    def submit(
        self, mode: Mode, *, judge: Model | None = None, timeout: float = 900.0
    ) -> Decision | None:
        """``decide`` without waiting: for ``person`` the action joins the journal's queue (unless
        policy rejects it outright) and None is returned; ``answer()`` gives the decision."""
        if mode is not Mode.PERSON:
            return self.decide(mode, judge=judge)
        with self._failing():
            refusal = decide(Mode.POLICY, self.review())
            if refusal.verdict is Verdict.REJECT:
                return refusal
            ask_person(self.journal, self.action, timeout)
            return None

    def answer(self) -> Decision | None:
        """A person's decision on a submitted action (or its timeout's rollback); None meanwhile."""
        with self._failing():
            waiting = self.journal.waiting_for(self.action.id)
            if waiting is None or waiting.deadline is None:
                raise StateError(f"action {self.action.id} is not waiting for a person")
            deadline = datetime.fromisoformat(waiting.deadline)
            return answer_by(self.journal, self.action.id, self.digest, deadline)

    def commit(self, *, by: str = "caller", reason: str = "committed by the caller") -> Status:
        return self.carry_out(Decision(by, Verdict.COMMIT, reason, self.digest))

    def rollback(self, *, by: str = "caller", reason: str = "rolled back by the caller") -> Status:
        return self.carry_out(Decision(by, Verdict.ROLLBACK, reason, self.digest))

    def keep(self, *, by: str = "caller", reason: str = "kept staged by the caller") -> Status:
        return self.carry_out(Decision(by, Verdict.KEEP, reason, self.digest))

    def conclude(self, mode: Mode, **how: Any) -> Status:
        """``decide`` then ``carry_out``."""
        return self.carry_out(self.decide(mode, **how))

    def carry_out(self, decision: Decision) -> Status:
        """Do what was decided, exactly once: an action in the journal's queue is claimed by
        recording the decision there first (single-use), and once claimed it always ends in a
        final status — committed, or failed, rolled back or rejected with its work thrown away."""
        with self._guarded(), self._exclusive():
            decision = self._claim(decision)
            if decision.verdict is Verdict.COMMIT:
                self._commit(decision)
                return self.action.status
            with deferred():
                if decision.verdict is Verdict.KEEP:
                    try:
                        self._keep_work()
                    except BaseException:
                        self._end_without_commit(decision)
                        raise
                    self.journal.save(self.action)
                    wait_kept(self.journal, self.action)
                else:
                    try:
                        self._rollback_work()
                    finally:
                        self._end_without_commit(decision)
            return self.action.status

    def _claim(self, decision: Decision) -> Decision:
        """Check the decision can be carried out here, and record it in the queue."""
        if decision.verdict is Verdict.KEEP and not self.can_keep:
            decision = Decision(
                decision.by,
                Verdict.ROLLBACK,
                "this work cannot stay staged after the process ends, so rolled back",
                decision.digest,
            )
        if decision.paths and not self.takes_paths:
            raise UsageError("this action is decided as a whole; paths are for file actions")
        now = self.journal.status_of(self.action.id)
        if not now is self.action.status is Status.STAGED:
            why = "another process decided it" if now is not self.action.status else "too late"
            state = now.value if now else "gone"
            raise StateError(f"action {self.action.id} is {state} now: {why}")
        waiting = self.journal.waiting_for(self.action.id)
        if self.reopened and (waiting is None or not waiting.kept):
            raise StateError(
                f"action {self.action.id} is no longer kept: another process decided it"
            )
        self.action.decide(decision)
        if waiting is not None and not decision.carries_out(waiting.answer):
            self.journal.answer(self.action.id, decision, holder=this_holder())
        return decision

    def abandon(self, error: Exception) -> None:
        """End an undecided action that can be decided no more: work thrown away, failed."""
        if self.action.status in (Status.PROPOSED, Status.STAGED):
            with deferred():
                with suppress(Exception):
                    self._rollback_work()
                self._fail(error)

    def _end_without_commit(self, decision: Decision) -> None:
        """A final status for a claimed action whose decision was not a commit: nothing reached
        the target, whatever failed on the way (work that could not be kept is thrown away)."""
        if decision.verdict is Verdict.KEEP:
            with suppress(Exception):
                self._rollback_work()
        self._finish(Status.REJECTED if decision.verdict is Verdict.REJECT else Status.ROLLED_BACK)

    def _commit(self, decision: Decision) -> None:
        intent = {"digest": self.digest, **self._commit_intent(decision)}
        if self.undoes is not None:
            intent["undoes"] = self.undoes.id
        with deferred():  # a commit under way is finished, never cut half-way
            try:
                begun = self.journal.begin_intent(self.action.id, "commit", intent)
            except BaseException:
                with suppress(Exception):
                    self._rollback_work()
                self._finish(Status.FAILED)
                raise
            try:
                self._commit_work(decision)
            except BaseException as exc:
                # The failure is known and recorded; what a half-done commit needs to be
                # recovered is the work's own business (a database rolls back; a tree keeps
                # its apply intent). A commit lost on the way is neither: never retried.
                unknown = isinstance(exc, OutcomeUnknown)
                self._finish(Status.OUTCOME_UNKNOWN if unknown else Status.FAILED)
                self.journal.finish_intent(begun)
                raise
            self._finish(Status.COMMITTED)
            try:
                self._after_commit()  # committed already: a failure here is reported only
            finally:
                if self.undoes is not None:
                    self.undoes.advance(Status.UNDONE)
                    self.journal.save(self.undoes)
                self.journal.finish_intent(begun)

    def _finish(self, status: Status) -> None:
        self.action.advance(status)
        self.journal.save(self.action)

    # -- waiting, failing, interrupts ----------------------------------------------------------

    def _wait_for_person(
        self, timeout: float, on_wait: Callable[[datetime], None] | None
    ) -> Decision:
        deadline = ask_person(self.journal, self.action, timeout)
        if on_wait is not None:
            on_wait(deadline)
        while (answer := answer_by(self.journal, self.action.id, self.digest, deadline)) is None:
            self.journal.wait_for_change(POLL_SECONDS)
        return answer

    def _fail(self, error: Exception) -> None:
        """Journal an action that could not be staged or decided: refused, or failed."""
        rejected = isinstance(error, StatementDenied | PolicyRejected)
        self.action.advance(Status.REJECTED if rejected else Status.FAILED)
        message = error.message if isinstance(error, GoexError) else f"{error!r}"
        with suppress(GoexError):  # a journal that cannot be written: the error says why
            self.journal.save(self.action)
            self.journal.set_effects(
                self.action.id,
                {"error": self.redactor.redact(message), "error_type": type(error).__name__},
            )

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """Around staging and deciding: an interrupt rolls back (``_guarded``); any other
        failure throws the work away and journals the action failed (or rejected, when refused),
        then propagates, the first error being the one reported."""
        with self._guarded():
            try:
                yield
            except Exception as exc:
                self.abandon(exc)
                raise

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt as exc:
            raise self._interrupted(signal_name(exc)) from None

    def _interrupted(self, signal: str) -> Interrupted:
        """Roll back after SIGINT/SIGTERM and journal why; the message says what happened. A
        kept action not yet claimed here stays kept: the interrupt stopped only this command."""
        action = self.action
        if action.status in (Status.PROPOSED, Status.STAGED):
            waiting = None
            with suppress(GoexError):
                waiting = self.journal.waiting_for(action.id) if self.reopened else None
            if waiting is not None and waiting.kept and waiting.answer is None:
                return Interrupted(
                    f"interrupted ({signal}): action {action.id} stays kept; {self.unchanged}"
                )
            with deferred(swallow=True):
                with suppress(Exception):
                    self._rollback_work()
                action.decision = Decision(
                    "signal", Verdict.ROLLBACK, f"interrupted ({signal})", action.digest or ""
                )
                action.advance(Status.ROLLED_BACK)
                with suppress(GoexError):
                    self.journal.save(action)
            return Interrupted(
                f"interrupted ({signal}): action {action.id} was rolled back; {self.unchanged}"
            )
        return Interrupted(
            f"interrupted ({signal}) after action {action.id} was {action.status.value}; "
            "its commit had begun, so it was finished"
            if action.status is Status.COMMITTED
            else f"interrupted ({signal}): action {action.id} is {action.status.value}"
        )
