"""The journal's queue: actions waiting for a person, and the one decision that answers each."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.action import Action, Decision, Kind, Status, Verdict
from core.errors import StateError
from core.journal import Journal, Location, holder_gone, this_holder


def staged(journal: Journal, code: str = "UPDATE t SET x = 1") -> Action:
    action = Action(Kind.DB, "duckdb:/tmp/shop.duckdb", code)
    action.bind({"rows": 1})
    action.advance(Status.STAGED)
    journal.save(action)
    return action


def later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def decision(action: Action, verdict: Verdict = Verdict.COMMIT, by: str = "person:a@h") -> Decision:
    assert action.digest is not None
    return Decision(by, verdict, "looked fine", action.digest, paths=("a.txt",))


def test_an_answer_is_recorded_once_and_read_by_the_holder(location: Location) -> None:
    with Journal(location) as journal:
        action = staged(journal)
        journal.wait_for(action.id, holder=this_holder(), deadline=later(60))
        assert journal.answer_of(action.id) is None
        given = decision(action)
        journal.answer(action.id, given)
        assert journal.answer_of(action.id) == given  # paths and all
        with pytest.raises(StateError, match=r"was already decided: commit by person:a@h"):
            journal.answer(action.id, decision(action, Verdict.REJECT))
        assert journal.answer_of(action.id) == given


def test_a_stale_digest_is_refused_and_nothing_recorded(location: Location) -> None:
    with Journal(location) as journal:
        action = staged(journal)
        journal.wait_for(action.id, holder=this_holder(), deadline=later(60))
        stale = Decision("person:a@h", Verdict.COMMIT, "ok", "f" * 64)
        with pytest.raises(StateError, match="its code or effects are not what was shown"):
            journal.answer(action.id, stale)
        assert journal.answer_of(action.id) is None
        assert journal.get(action.id).decision is None


def test_only_a_waiting_action_can_be_answered(location: Location) -> None:
    with Journal(location) as journal:
        action = staged(journal)
        with pytest.raises(StateError, match="is not waiting for a decision"):
            journal.answer(action.id, decision(action))


def test_after_the_deadline_only_the_holder_answers(location: Location) -> None:
    with Journal(location) as journal:
        action = staged(journal)
        journal.wait_for(action.id, holder=this_holder(), deadline=later(-1))
        with pytest.raises(StateError, match="for a decision and is rolled back"):
            journal.answer(action.id, decision(action))
        expired = decision(action, Verdict.ROLLBACK, by="timeout")
        journal.answer(action.id, expired, holder=this_holder())
        assert journal.answer_of(action.id) == expired


def test_a_holder_that_died_cannot_be_answered(location: Location) -> None:
    process = multiprocessing.get_context("fork").Process(target=lambda: None)
    process.start()
    process.join()
    gone = f"{process.pid}@{this_holder().split('@', 1)[1]}"
    assert holder_gone(gone) and not holder_gone(this_holder())
    with Journal(location) as journal:
        action = staged(journal)
        journal.wait_for(action.id, holder=gone, deadline=later(60))
        with pytest.raises(StateError, match="has ended without a decision"):
            journal.answer(action.id, decision(action))


def test_a_final_status_leaves_the_queue(location: Location) -> None:
    with Journal(location) as journal:
        kept = staged(journal, "kept")
        held = staged(journal, "held")
        journal.wait_for(kept.id, holder=None, deadline=None)
        journal.wait_for(held.id, holder=this_holder(), deadline=later(60))
        assert [w.action_id for w in journal.waiting()] == [kept.id, held.id]
        assert [w.kept for w in journal.waiting()] == [True, False]
        assert journal.waiting(Kind.FS) == []
        held.decide(decision(held, Verdict.ROLLBACK))
        held.advance(Status.ROLLED_BACK)
        journal.save(held)
        assert [w.action_id for w in journal.waiting()] == [kept.id]


def _answer(path: str, action_id: str, digest: str, verdict: str, results: object) -> None:
    with Journal(path) as journal:
        try:
            journal.answer(action_id, Decision("person:x@h", Verdict(verdict), "race", digest))
            results.put(verdict)  # type: ignore[attr-defined]
        except StateError:
            results.put("refused")  # type: ignore[attr-defined]


def test_two_processes_answering_at_once_one_wins(location: Location) -> None:
    path = location
    with Journal(path) as journal:
        action = staged(journal)
        journal.wait_for(action.id, holder=this_holder(), deadline=later(60))
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    racers = [
        context.Process(
            target=_answer, args=(str(path), action.id, action.digest, verdict, results)
        )
        for verdict in ("commit", "reject") * 4
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    outcomes = sorted(results.get(timeout=10) for _ in racers)
    assert outcomes.count("refused") == len(racers) - 1
    with Journal(path) as journal:
        answer = journal.answer_of(action.id)
        assert answer is not None and answer.verdict.value in outcomes


def test_kept_actions_of_an_old_journal_join_the_queue(tmp_path: Path) -> None:
    """A version-1 journal with an action kept staged: the migration puts it in the queue."""
    path = tmp_path / "j.sqlite3"
    with Journal(path) as journal:
        action = staged(journal)
        assert action.digest is not None
        keep = Decision("flag", Verdict.KEEP, "--decide keep", action.digest)
        action.decide(keep)
        journal.save(action)
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE waits; ALTER TABLE decisions DROP COLUMN paths;")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Journal(path) as journal:
        [waiting] = journal.waiting()
        assert waiting.action_id == action.id and waiting.kept
        assert journal.get(action.id).decision == keep


def _claim(path: str, action_id: str, digest: str) -> None:
    with Journal(path) as journal:
        journal.answer(action_id, Decision("person:x@h", Verdict.COMMIT, "claimed", digest))


def test_a_kept_action_claimed_by_a_process_that_died_can_be_decided_again(
    location: Location,
) -> None:
    path = location
    with Journal(path) as journal:
        action = staged(journal)
        journal.wait_for(action.id, holder=None, deadline=None)  # kept
    claimer = multiprocessing.get_context("fork").Process(
        target=_claim, args=(str(path), action.id, action.digest)
    )
    claimer.start()
    claimer.join()  # it claimed the action, then died before carrying the decision out
    with Journal(path) as journal:
        assert journal.answer_of(action.id) is not None
        journal.answer(action.id, decision(action, Verdict.ROLLBACK))  # the claim lapsed
        assert journal.answer_of(action.id).verdict is Verdict.ROLLBACK  # type: ignore[union-attr]
        with pytest.raises(StateError, match="already decided"):  # this claimer is alive
            journal.answer(action.id, decision(action))


def test_a_database_journal_wakes_the_holder_when_an_answer_is_recorded(
    journal_database: str,
) -> None:
    """LISTEN/NOTIFY: the holder waits for a change as long as it likes (here up to a minute)
    and is woken as soon as another connection records the answer."""
    with Journal(journal_database) as holder, Journal(journal_database) as person:
        action = staged(holder)
        holder.wait_for(action.id, holder=this_holder(), deadline=later(120))
        holder.wait_for_change(0.01)  # listening from here on
        woke: list[float] = []
        waiter = threading.Thread(
            target=lambda: (holder.wait_for_change(60), woke.append(time.monotonic()))
        )
        waiter.start()
        answered = time.monotonic()
        said = decision(action)
        person.answer(action.id, said)
        waiter.join(timeout=90)
        assert woke and woke[0] - answered < 30  # the notification, not the minute
        assert holder.answer_of(action.id) == said
