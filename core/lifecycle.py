"""The one pipeline every front end uses: stage → evaluate → record → decide → carry out.

Each side subclasses ``Staged`` (``goexdb.Staged``, ``goexfs.Staged``) with how its work is
made permanent, thrown away or kept; everything else happens here, the same way for both:

* ``being_staged()`` surrounds the side's staging: the action is journaled as proposed first,
  and a failure (journaled ``failed``, or ``rejected`` when refused) or an interrupt
  (``rolled_back``) throws the work away and is recorded before it propagates;
* ``record()`` binds the digest of the code and its measured (redacted) effects and policy
  findings, and journals the action as staged;
* ``decide(mode)`` asks the configured decider (``core.review``); ``person`` waits on the
  journal for a decision recorded from another process (``Journal.answer``), at most
  ``timeout`` seconds, then rolls back;
* ``carry_out(decision)`` (and ``commit()``, ``rollback()``, ``keep()``): a commit writes its
  intent to the journal first and finishes it after, so ``recover`` can always tell a half-done
  commit from a finished one; a kept action joins the journal's queue, where a later process
  finds it (each side's ``reopen``) and a single-use decision answers it.

SIGINT and SIGTERM (``core.interrupt``) at any point before the commit roll the work back and
journal the action ``rolled_back`` with the reason "interrupted"; during the commit they are
held until it is finished. ``Interrupted`` then says which of the two happened.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from core.action import Action, Decision, Kind, Mode, Status, Verdict
from core.errors import GoexError, Interrupted, PolicyRejected, StateError, StatementDenied
from core.interrupt import deferred, signal_name
from core.journal import Journal, this_holder
from core.llm import Model
from core.policy import Violation
from core.redact import Redactor
from core.review import Prompter, Review, decide

POLL_SECONDS = 0.2  # how often a held action looks for a person's decision


class Staged(ABC):
    """One action whose work is staged and measured, waiting for its decision.

    A side provides ``_commit_work``, ``_rollback_work`` and, when its work can outlive the
    process, ``can_keep`` and ``_keep_work``; ``summary`` is one line of what the action did
    or left (for messages such as the interrupt's)."""

    kind: ClassVar[Kind]

    def __init__(self, action: Action, journal: Journal, redactor: Redactor) -> None:
        self.action = action
        self.journal = journal
        self.redactor = redactor
        self.recorded: dict[str, Any] = {}  # the journaled effects the digest binds
        self.violations: list[Violation] = []
        self.undoes: Action | None = None  # the committed action this one undoes

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
        """Journal the action as staged with its effects and findings, which the digest binds."""
        self.violations = list(violations)
        recorded = self.redactor.redact_obj(
            {**effects, "violations": [v.to_json() for v in violations]}
        )
        self.recorded = dict(recorded)
        self.action.bind(self.recorded)
        self.action.advance(Status.STAGED)
        self.journal.save(self.action)
        self.journal.set_effects(self.action.id, self.recorded)

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
        """Do what was decided, exactly once (a queued action's decision is single-use)."""
        with self._guarded(), self._exclusive():
            if decision.verdict is Verdict.KEEP and not self.can_keep:
                decision = Decision(
                    decision.by,
                    Verdict.ROLLBACK,
                    "this work cannot stay staged after the process ends, so rolled back",
                    decision.digest,
                )
            now = self.journal.status_of(self.action.id)
            if now is not self.action.status:
                raise StateError(
                    f"action {self.action.id} is {now.value if now else 'gone'} now: another "
                    "process decided it"
                )
            self.action.decide(decision)
            waiting = self.journal.waiting_for(self.action.id)
            if waiting is not None and waiting.answer != decision:
                self.journal.answer(self.action.id, decision, holder=waiting.holder)
            if decision.verdict is Verdict.KEEP:
                with deferred():
                    self._keep_work()
                    self.journal.save(self.action)
                    self.journal.wait_for(self.action.id, holder=None, deadline=None)
            elif decision.verdict is Verdict.COMMIT:
                self._commit(decision)
            else:
                with deferred():
                    self._rollback_work()
                    rejected = decision.verdict is Verdict.REJECT
                    self.action.advance(Status.REJECTED if rejected else Status.ROLLED_BACK)
                    self.journal.save(self.action)
            return self.action.status

    def _commit(self, decision: Decision) -> None:
        intent = {"digest": self.digest, **self._commit_intent(decision)}
        if self.undoes is not None:
            intent["undoes"] = self.undoes.id
        with deferred():  # a commit under way is finished, never cut half-way
            begun = self.journal.begin_intent(self.action.id, "commit", intent)
            try:
                self._commit_work(decision)
            except BaseException:
                # The failure is known and recorded; what a half-done commit needs to be
                # recovered is the work's own business (a database rolls back; a tree keeps
                # its apply intent).
                self.action.advance(Status.FAILED)
                self.journal.save(self.action)
                self.journal.finish_intent(begun)
                raise
            self.action.advance(Status.COMMITTED)
            self.journal.save(self.action)
            if self.undoes is not None:
                self.undoes.advance(Status.UNDONE)
                self.journal.save(self.undoes)
            self.journal.finish_intent(begun)

    # -- waiting, failing, interrupts ----------------------------------------------------------

    def _wait_for_person(
        self, timeout: float, on_wait: Callable[[datetime], None] | None
    ) -> Decision:
        holder = this_holder()
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        self.journal.wait_for(self.action.id, holder=holder, deadline=deadline.isoformat())
        if on_wait is not None:
            on_wait(deadline)
        ends = time.monotonic() + timeout
        while True:
            answer = self.journal.answer_of(self.action.id)
            if answer is not None:
                return answer
            if time.monotonic() >= ends:
                expired = Decision(
                    "timeout",
                    Verdict.ROLLBACK,
                    f"no decision within {timeout:g} s, so rolled back",
                    self.digest,
                )
                with suppress(StateError):  # a person answered first: theirs is read next
                    self.journal.answer(self.action.id, expired, holder=holder)
                    return expired
                continue
            time.sleep(POLL_SECONDS)

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
                if self.action.status in (Status.PROPOSED, Status.STAGED):
                    with deferred(), suppress(Exception):
                        self._rollback_work()
                    self._fail(exc)
                raise

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt as exc:
            raise self._interrupted(signal_name(exc)) from None

    def _interrupted(self, signal: str) -> Interrupted:
        """Roll back after SIGINT/SIGTERM and journal why; the message says what happened."""
        action = self.action
        with deferred():
            if action.status in (Status.PROPOSED, Status.STAGED):
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
