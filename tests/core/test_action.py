from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.action import (
    _EPOCH_MS,
    TRANSITIONS,
    Action,
    Decision,
    Kind,
    Status,
    Verdict,
    digest_of,
    new_action_id,
)
from core.errors import StateError

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID = re.compile(f"^[{ALPHABET}]{{10}}$")
MAX_MS = _EPOCH_MS + 32**8 - 1  # the last millisecond the 8 time digits can hold (in 2058)


def make(**kwargs: object) -> Action:
    fields: dict[str, object] = {"kind": Kind.DB, "target": "duckdb:/tmp/x.duckdb", "code": "X"}
    fields.update(kwargs)
    return Action(**fields)  # type: ignore[arg-type]


def test_new_action_starts_proposed() -> None:
    action = make()
    assert action.status is Status.PROPOSED
    assert [s for s, _ in action.history] == [Status.PROPOSED]
    assert action.digest is None and action.decision is None


def test_happy_path() -> None:
    action = make()
    action.advance(Status.STAGED)
    action.advance(Status.COMMITTED)
    action.advance(Status.UNDONE)
    assert [s for s, _ in action.history] == [
        Status.PROPOSED,
        Status.STAGED,
        Status.COMMITTED,
        Status.UNDONE,
    ]
    assert action.status.is_final


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], Status.COMMITTED),  # never staged
        ([Status.STAGED, Status.ROLLED_BACK], Status.COMMITTED),
        ([Status.STAGED, Status.COMMITTED], Status.ROLLED_BACK),
        ([Status.STAGED, Status.COMMITTED, Status.UNDONE], Status.COMMITTED),
        ([Status.REJECTED], Status.STAGED),
        ([Status.STAGED], Status.STAGED),
        ([], Status.UNDONE),
    ],
)
def test_illegal_transitions(path: list[Status], illegal: Status) -> None:
    action = make()
    for status in path:
        action.advance(status)
    before = list(action.history)
    with pytest.raises(StateError, match=f"cannot go from {action.status.value} to"):
        action.advance(illegal)
    assert action.history == before


def test_final_statuses() -> None:
    final = {s for s in Status if s.is_final}
    assert final == {
        Status.ROLLED_BACK,
        Status.REJECTED,
        Status.FAILED,
        Status.OUTCOME_UNKNOWN,
        Status.UNDONE,
    }


@given(st.lists(st.sampled_from(list(Status)), max_size=12))
def test_advance_raises_exactly_when_the_transition_is_not_allowed(steps: list[Status]) -> None:
    action = make()
    expected = [Status.PROPOSED]
    for status in steps:
        allowed = status in TRANSITIONS[action.status]
        if allowed:
            action.advance(status)
            expected.append(status)
        else:
            with pytest.raises(StateError):
                action.advance(status)
        assert [s for s, _ in action.history] == expected


def test_ids_are_ten_characters_of_crockford_base32() -> None:
    assert ID.match(make().id)
    assert all(ID.match(new_action_id()) for _ in range(100))


def test_ids_made_in_a_row_are_unique_and_increasing() -> None:
    # Many fall in the same millisecond; two random characters alone would repeat.
    ids = [new_action_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


@given(
    st.integers(min_value=_EPOCH_MS, max_value=MAX_MS),
    st.integers(min_value=_EPOCH_MS, max_value=MAX_MS),
)
def test_ids_sort_by_time(a: int, b: int) -> None:
    ida, idb = new_action_id(a), new_action_id(b)
    assert ID.match(ida) and ID.match(idb)
    if a < b:
        assert ida < idb
    elif a > b:
        assert ida > idb
    else:
        assert ida[:8] == idb[:8]


def test_id_carries_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    action_id = new_action_id()
    after = time.time_ns() // 1_000_000
    ms = 0
    for char in action_id[:8]:
        ms = ms * 32 + ALPHABET.index(char)
    assert before <= ms + _EPOCH_MS <= after
    assert new_action_id(_EPOCH_MS)[:8] == "00000000"
    assert new_action_id(MAX_MS)[:8] == "zzzzzzzz"


@pytest.mark.parametrize(
    "target",
    [
        "postgresql://u:secret@h/db",
        "postgres://app:secret@db.example.com:5432/prod?sslmode=require",
        "host=x password=secret dbname=prod",
        "host=x PASSWORD = secret",
        "host=x password='se cret' user=u",
    ],
)
def test_target_password_is_removed(target: str) -> None:
    action = make(target=target)
    assert "secret" not in action.target
    assert "se cret" not in action.target
    assert "[REDACTED]" in action.target
    assert "secret" not in str(action.to_json())


def test_target_without_password_is_kept() -> None:
    for target in ("postgresql://u@h/db", "host=x dbname=prod user=app", "duckdb:/data/a.duckdb"):
        assert make(target=target).target == target


def test_digest_binds_code_and_effects() -> None:
    effects = {"tables": {"t": {"updated": 3}}, "schema": []}
    same = {"schema": [], "tables": {"t": {"updated": 3}}}
    assert digest_of("UPDATE t SET x = 1", effects) == digest_of("UPDATE t SET x = 1", same)
    assert digest_of("UPDATE t SET x = 1", effects) != digest_of("UPDATE t SET x = 2", effects)
    assert digest_of("UPDATE t SET x = 1", effects) != digest_of(
        "UPDATE t SET x = 1", {"tables": {"t": {"updated": 4}}, "schema": []}
    )
    assert digest_of("X", None) == digest_of("X", {})
    assert re.fullmatch(r"[0-9a-f]{64}", digest_of("X", None))


def test_decide_accepts_a_decision_on_the_bound_digest() -> None:
    action = make()
    digest = action.bind({"rows": 1})
    assert action.digest == digest
    decision = Decision(by="user", verdict=Verdict.COMMIT, reason="ok", digest=digest)
    action.decide(decision)
    assert action.decision is decision


def test_decide_refuses_a_decision_on_other_effects() -> None:
    action = make()
    reviewed = action.bind({"rows": 1})
    action.bind({"rows": 1000})  # measured again: something else happened
    with pytest.raises(StateError, match="review again"):
        action.decide(Decision(by="user", verdict=Verdict.COMMIT, reason="ok", digest=reviewed))
    assert action.decision is None


def test_decide_refuses_when_nothing_is_bound() -> None:
    action = make()
    with pytest.raises(StateError):
        action.decide(Decision(by="user", verdict=Verdict.COMMIT, reason="ok", digest="0" * 64))


def test_json_round_trip() -> None:
    action = make(prompt="delete the old rows")
    digest = action.bind({"rows": 2})
    decision = Decision(
        by="flag", verdict=Verdict.ROLLBACK, reason="--decide rollback", digest=digest
    )
    action.advance(Status.STAGED)
    action.decide(decision)
    data = action.to_json()
    assert data["status"] == "staged"
    assert [h["status"] for h in data["history"]] == ["proposed", "staged"]
    assert data["decision"] == decision.to_json()
    assert Decision.from_json(data["decision"]) == decision
    assert data["kind"] == "db" and data["prompt"] == "delete the old rows"
