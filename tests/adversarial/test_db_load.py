"""Twenty concurrent goex-db run processes against one PostgreSQL server, several contending
for the same rows under a small lock_timeout; and a held transaction left idle, ended by
idle_in_transaction_session_timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass

import psycopg
import pytest

from tests.adversarial import fingerprint
from tests.adversarial.terminal import PROMPT, goex_db_on_terminal

GOEX_DB = (sys.executable, "-m", "goexdb.cli")
CONCURRENT_SESSIONS = 20  # the README's Guarantees section states this figure
LOCK_TIMEOUT = "0.3"
LOCK_TIMEOUT_ERROR = "canceling statement due to lock timeout"


@dataclass(frozen=True)
class Session:
    sql: str
    decide: str
    outcomes: frozenset[str]  # what this session may end as


def _sessions() -> list[Session]:
    held = frozenset({"lock_timeout"})
    either = frozenset({"committed", "lock_timeout"})
    sessions = []
    for i in range(6):  # rows 1-3 are locked by the test itself for the whole run
        sessions.append(
            Session(
                f"UPDATE orders SET status = 'blocked {i}' WHERE id IN (1, 2, 3)", "commit", held
            )
        )
    for i in range(6):  # rows 20-22: these contend with each other, each holding them a while
        sessions.append(
            Session(
                f"UPDATE orders SET status = 'won {i}' WHERE id IN (20, 21, 22); "
                "SELECT pg_sleep(0.5)",
                "commit",
                either,
            )
        )
    for i in range(4):  # both orders of the same two rows: a deadlock, unless lock_timeout wins
        first, second = (40, 41) if i % 2 else (41, 40)
        sessions.append(
            Session(
                f"UPDATE orders SET status = 'pair {i}' WHERE id = {first}; SELECT pg_sleep(0.3); "
                f"UPDATE orders SET status = 'pair {i}' WHERE id = {second}",
                "commit",
                frozenset({"committed", "lock_timeout", "deadlock"}),
            )
        )
    for i in range(2):  # measured and rolled back
        sessions.append(
            Session(
                f"DELETE FROM orders WHERE id > {80 + i}", "rollback", frozenset({"rolled_back"})
            )
        )
    for i in range(2):  # rows nobody else touches
        sessions.append(
            Session(
                f"UPDATE customers SET name = 'alone {i}' WHERE id = {10 + i}",
                "commit",
                frozenset({"committed"}),
            )
        )
    assert len(sessions) == CONCURRENT_SESSIONS
    return sessions


def _outcome(done: subprocess.CompletedProcess[str]) -> str:
    if done.returncode == 0:
        return "committed"
    if done.returncode == 3:
        return "rolled_back"
    assert done.returncode == 1, done
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    if LOCK_TIMEOUT_ERROR in done.stderr:
        return "lock_timeout"
    if "deadlock detected" in done.stderr:
        return "deadlock"
    raise AssertionError(f"an unexpected failure: {done.stderr}")


def _leftovers(dsn: str) -> tuple[int, int]:
    """Locks held and transactions open by any other session of the database."""
    with psycopg.connect(dsn, autocommit=True) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()), "
            "       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "        AND pid <> pg_backend_pid() AND xact_start IS NOT NULL)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_twenty_concurrent_sessions_all_finish_and_leave_no_lock(corpus_pg: str) -> None:
    sessions = _sessions()
    env = {**os.environ, "GOEX_DB_LOCK_TIMEOUT": LOCK_TIMEOUT}
    with psycopg.connect(corpus_pg) as holder:
        holder.execute("SELECT * FROM orders WHERE id IN (1, 2, 3) FOR UPDATE")
        procs = [
            subprocess.Popen(
                [*GOEX_DB, "run", "--dsn", corpus_pg, "--sql", s.sql, "--decide", s.decide],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for s in sessions
        ]
        results = []
        try:
            for proc in procs:
                out, err = proc.communicate(timeout=120)  # a hang fails here
                results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        holder.rollback()
    outcomes = [_outcome(done) for done in results]
    for session, outcome, done in zip(sessions, outcomes, results, strict=True):
        assert outcome in session.outcomes, (session.sql, done.stderr)
    counted = Counter(outcomes)
    assert counted["lock_timeout"] >= 6
    assert counted["committed"] >= 3
    assert _leftovers(corpus_pg) == (0, 0)
    with psycopg.connect(corpus_pg) as con:
        statuses = dict(con.execute("SELECT id, status FROM orders WHERE id <= 45").fetchall())
        assert [statuses[i] for i in (1, 2, 3)] == ["new"] * 3
        won = {statuses[i] for i in (20, 21, 22)}
        assert len(won) == 1  # one session's UPDATE, whole
        winners = {f"won {i}" for i in range(6) if outcomes[6 + i] == "committed"}
        assert won <= winners | {"new"}
        assert con.execute("SELECT count(*) FROM orders").fetchone() == (90,)
        names = con.execute("SELECT name FROM customers WHERE id IN (10, 11) ORDER BY id")
        assert names.fetchall() == [("alone 0",), ("alone 1",)]
        con.execute("UPDATE orders SET status = 'new'")
        con.execute("UPDATE customers SET name = 'customer ' || id")
        con.commit()


def test_an_idle_held_transaction_is_ended_and_goex_says_so(
    corpus_pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprint.postgres(corpus_pg)
    monkeypatch.setenv("GOEX_DB_IDLE_TIMEOUT", "1")  # seconds, for the goex-db below
    terminal = goex_db_on_terminal(
        "run", "--dsn", corpus_pg, "--decide", "ask", "--sql", "DELETE FROM orders WHERE id <= 10"
    )
    terminal.read_until(PROMPT)
    assert not fingerprint.orders_lockable(corpus_pg)  # held while the person thinks
    deadline = time.monotonic() + 20
    while not fingerprint.orders_lockable(
        corpus_pg
    ):  # ... until the server ends the idle transaction
        assert time.monotonic() < deadline, "the idle transaction kept its locks"
        time.sleep(0.1)
    assert _leftovers(corpus_pg) == (0, 0)
    terminal.answer("c\n")  # the person comes back and says commit
    seen = terminal.read_until(b"\x00never").decode(errors="replace")
    assert terminal.wait() == 1, seen
    errors = [line for line in seen.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, seen
    assert "idle_in_transaction_session_timeout" in errors[0]
    assert "nothing was committed" in errors[0]
    assert fingerprint.postgres(corpus_pg) == before
