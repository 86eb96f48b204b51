"""The one pipeline (core.lifecycle.Staged) on a journal, with the simplest side there is: work
that is a flag in memory. The real sides run the same pipeline in tests/goexdb and tests/goexfs."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from core.action import Action, Decision, Kind, Mode, Status, Verdict
from core.errors import Interrupted, OutcomeUnknown, StateError, UsageError
from core.journal import Journal
from core.lifecycle import Staged
from core.redact import Redactor


class Flag(Staged):
    """Work that is one value: staged, then committed or thrown away."""

    kind = Kind.DB

    def __init__(self, journal: Journal, action: Action | None = None, keeps: bool = True) -> None:
        super().__init__(
            action or Action(Kind.DB, "duckdb:/tmp/x", "SET x = 1"), journal, Redactor()
        )
        self.state = "none"
        self.keeps = keeps

    @property
    def can_keep(self) -> bool:
        return self.keeps

    def stage(self) -> Flag:
        with self.being_staged():
            self.state = "staged"
            self.record({"rows": 1}, [])
        return self

    def _commit_work(self, decision: Decision) -> None:
        self.state = "committed"

    def _rollback_work(self) -> None:
        self.state = "gone"


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.sqlite3")


def test_a_commit_is_journaled_with_its_intent(journal: Journal) -> None:
    staged = Flag(journal).stage()
    assert staged.status is Status.STAGED and staged.digest
    assert staged.commit(by="test") is Status.COMMITTED
    assert staged.state == "committed"
    stored = journal.get(staged.action.id)
    assert [s for s, _ in stored.history] == [Status.PROPOSED, Status.STAGED, Status.COMMITTED]
    [(_, step, data, finished)] = journal.intents_of(staged.action.id)
    assert (step, data["digest"], finished) == ("commit", staged.digest, True)


def test_a_decider_that_fails_leaves_nothing_held(journal: Journal) -> None:
    staged = Flag(journal).stage()
    with pytest.raises(UsageError, match="needs a model"):
        staged.decide(Mode.LLM)  # no judge model configured
    assert staged.state == "gone"
    assert journal.get(staged.action.id).status is Status.FAILED
    assert journal.effects(staged.action.id) == {
        "error": "--decide llm needs a model; set OPENAI_API_KEY",
        "error_type": "UsageError",
    }


def test_keep_where_work_cannot_outlive_the_process_rolls_back(journal: Journal) -> None:
    staged = Flag(journal, keeps=False).stage()
    assert staged.keep() is Status.ROLLED_BACK
    assert staged.state == "gone"
    assert staged.action.decision is not None
    assert "cannot stay staged" in staged.action.decision.reason


def test_a_kept_action_is_decided_once_whoever_tries(journal: Journal, tmp_path: Path) -> None:
    first = Flag(journal).stage()
    assert first.keep() is Status.STAGED
    assert [w.action_id for w in journal.waiting()] == [first.action.id]
    # Two processes pick it up (each its own journal connection and copy of the action).
    with Journal(journal.path) as one, Journal(journal.path) as two:
        a = Flag(one, one.get(first.action.id))
        b = Flag(two, two.get(first.action.id))
        a.recorded = b.recorded = first.recorded
        assert a.commit(by="one") is Status.COMMITTED
        with pytest.raises(StateError, match="is committed now: another process decided it"):
            b.rollback(by="two")
    assert b.state == "none"  # the loser touched nothing
    assert journal.get(first.action.id).status is Status.COMMITTED
    assert journal.waiting() == []


def test_a_person_decides_from_elsewhere(journal: Journal) -> None:
    staged = Flag(journal).stage()
    waited: list[object] = []

    def person() -> None:
        with Journal(journal.path) as other:
            while not other.waiting():
                threading.Event().wait(0.01)
            decision = Decision("person:p@h", Verdict.COMMIT, "fine", staged.digest)
            other.answer(staged.action.id, decision)

    helper = threading.Thread(target=person)
    helper.start()
    status = staged.conclude(Mode.PERSON, timeout=30, on_wait=waited.append)
    helper.join()
    assert status is Status.COMMITTED and staged.state == "committed"
    assert len(waited) == 1  # told once that it waits, with the deadline
    assert journal.get(staged.action.id).decision.by == "person:p@h"  # type: ignore[union-attr]


def test_nobody_decides_so_it_is_rolled_back(journal: Journal) -> None:
    staged = Flag(journal).stage()
    assert staged.conclude(Mode.PERSON, timeout=0.3) is Status.ROLLED_BACK
    assert staged.state == "gone"
    assert staged.action.decision is not None and staged.action.decision.by == "timeout"


def test_an_interrupt_while_staging_rolls_back_and_says_so(journal: Journal) -> None:
    staged = Flag(journal)
    with pytest.raises(Interrupted) as info, staged.being_staged():
        staged.state = "staged"
        raise KeyboardInterrupt
    assert isinstance(info.value, KeyboardInterrupt)  # a caller stopping on Ctrl-C still stops
    assert str(info.value) == (
        f"interrupted (SIGINT): action {staged.action.id} was rolled back; nothing was changed"
    )
    assert staged.state == "gone"
    stored = journal.get(staged.action.id)
    assert stored.status is Status.ROLLED_BACK
    assert stored.decision is not None and stored.decision.reason == "interrupted (SIGINT)"


class Brittle(Flag):
    """Work whose clean-ups fail: after the commit, and when thrown away."""

    def _after_commit(self) -> None:
        raise OSError("the staged copy could not be removed")

    def _rollback_work(self) -> None:
        self.state = "half gone"
        raise OSError("the clone could not be dropped")


def test_a_clean_up_failing_after_the_commit_leaves_it_committed(journal: Journal) -> None:
    staged = Brittle(journal).stage()
    with pytest.raises(OSError, match="could not be removed"):
        staged.commit()
    assert staged.state == "committed"
    assert journal.get(staged.action.id).status is Status.COMMITTED  # not "failed"
    assert journal.pending_intents() == []


def test_a_rollback_that_fails_still_ends_the_action(journal: Journal) -> None:
    staged = Brittle(journal).stage()
    staged.keep()
    with pytest.raises(OSError, match="could not be dropped"):
        staged.rollback()
    assert journal.get(staged.action.id).status is Status.ROLLED_BACK  # never stuck "staged"
    assert journal.waiting() == []


class Locked(Flag):
    """A kept action whose lock is waited for when Ctrl-C comes."""

    def _exclusive(self) -> AbstractContextManager[None]:
        raise KeyboardInterrupt


def test_an_interrupt_before_a_kept_action_is_claimed_leaves_it_kept(journal: Journal) -> None:
    kept = Flag(journal).stage()
    kept.keep()
    again = Locked(journal, journal.get(kept.action.id))
    again.recorded, again.reopened, again.state = kept.recorded, True, "staged"
    with pytest.raises(Interrupted, match=f"action {kept.action.id} stays kept"):
        again.commit()
    assert again.state == "staged"  # its work untouched
    assert journal.get(kept.action.id).status is Status.STAGED
    [waiting] = journal.waiting()
    assert waiting.kept and waiting.answer is None


class LostCommit(Flag):
    """Work whose COMMIT lost its connection on the way."""

    def _commit_work(self, decision: Decision) -> None:
        raise OutcomeUnknown("the connection broke during the commit")


def test_a_commit_whose_outcome_is_unknown_is_journaled_so(journal: Journal) -> None:
    staged = LostCommit(journal).stage()
    with pytest.raises(OutcomeUnknown):
        staged.commit(by="test")
    assert journal.get(staged.action.id).status is Status.OUTCOME_UNKNOWN
    with pytest.raises(StateError):  # never retried: the status is final
        staged.commit(by="test")


def test_submit_asks_a_person_without_waiting_and_answer_gives_the_decision(
    journal: Journal,
) -> None:
    staged = Flag(journal).stage()
    assert staged.submit(Mode.PERSON, timeout=60) is None
    assert staged.answer() is None  # nobody has decided
    waiting = journal.waiting_for(staged.action.id)
    assert waiting is not None and waiting.deadline is not None
    person = Decision("person:someone", Verdict.COMMIT, "looks right", staged.digest)
    journal.answer(staged.action.id, person)
    assert staged.answer() == person
    assert staged.carry_out(person) is Status.COMMITTED and staged.state == "committed"


def test_an_unanswered_submission_is_rolled_back_after_its_timeout(journal: Journal) -> None:
    staged = Flag(journal).stage()
    assert staged.submit(Mode.PERSON, timeout=0.05) is None
    deadline = threading.Event()
    deadline.wait(0.1)
    answer = staged.answer()
    assert answer is not None and answer.verdict is Verdict.ROLLBACK and answer.by == "timeout"
    assert staged.carry_out(answer) is Status.ROLLED_BACK and staged.state == "gone"


def test_no_more_work_is_staged_into_an_action_that_waits(journal: Journal) -> None:
    staged = Flag(journal).stage()
    staged.submit(Mode.PERSON, timeout=60)
    with pytest.raises(StateError, match="no more work"), staged.staging_more():
        pass
