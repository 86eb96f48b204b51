"""SIGINT and SIGTERM sent to real goex-db processes at several moments: the database is rolled
back (or a commit under way finished), the journal says why, one line, exit 130."""

from __future__ import annotations

import json
import re
import signal

import psycopg
import pytest

from tests.adversarial.terminal import PROMPT, goex_db_on_terminal
from tests.fake_llm import FakeLLM
from tests.goexdb.conftest import ShopDB
from tests.goexdb.test_decide import held, keep_on_clone, ship
from tests.processes import SIGNALS, run, shown, start, until

DB = "goexdb.cli"
ROLLED_BACK = re.compile(
    r"^interrupted \((SIGINT|SIGTERM)\): action (\w+) was rolled back; the database was not "
    r"changed\n$"
)


def running_statements(dsn: str, text: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active' "
            "AND pid <> pg_backend_pid()",
            (f"%{text}%",),
        ).fetchone()
    return int(row[0]) if row else 0


def assert_rolled_back(err: str, signum: int) -> str:
    found = ROLLED_BACK.match(err)
    assert found, err
    assert found.group(1) == signal.Signals(signum).name
    action = shown(DB, found.group(2))
    assert action["status"] == "rolled_back"
    assert action["decision"]["reason"] == f"interrupted ({signal.Signals(signum).name})"
    return found.group(2)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_while_the_statement_runs_cancels_and_rolls_back(
    pg_dsn: str, pg_shop: ShopDB, signum: int
) -> None:
    shop = pg_shop  # a statement that sleeps on the server: PostgreSQL's pg_sleep
    before = shop.snapshot()
    sql = f"UPDATE {shop.table('orders')} SET status = 'gone' WHERE pg_sleep(60) IS NULL"
    running = start(DB, "run", "--dsn", shop.dsn, "--sql", sql, "--decide", "commit")
    until(lambda: running_statements(pg_dsn, "pg_sleep(60)") == 1, what="the statement")
    running.signal(signum)
    code, _, err = running.finish()
    assert code == 130
    assert_rolled_back(err, signum)
    assert running_statements(pg_dsn, "pg_sleep(60)") == 0  # cancelled on the server
    assert shop.snapshot() == before


@pytest.mark.parametrize(
    ("engine", "signum"), [("duckdb", signal.SIGINT), ("postgres", signal.SIGTERM)]
)
def test_a_signal_while_waiting_for_a_person_rolls_back(
    engine: str, signum: int, request: pytest.FixtureRequest
) -> None:
    shop: ShopDB = request.getfixturevalue("duckdb_shop" if engine == "duckdb" else "pg_shop")
    before = shop.snapshot()
    waiting = held(shop, ship(shop))
    waiting.running.signal(signum)
    code, out, err = waiting.running.finish()
    assert code == 130
    report = json.loads(out)  # --format json still reports how the action ended, and why
    assert report["status"] == "rolled_back" and report["error"].startswith("interrupted")
    assert assert_rolled_back(err[err.index("interrupted") :], signum) == waiting.action_id
    assert shop.snapshot() == before
    late = run(DB, "approve", waiting.action_id, "--digest", waiting.digest)
    assert late.returncode == 1  # nothing waits any more


def test_ctrl_c_at_the_prompt_rolls_back(shop: ShopDB) -> None:
    before = shop.snapshot()
    terminal = goex_db_on_terminal("run", "--dsn", shop.dsn, "--sql", ship(shop))
    terminal.read_until(PROMPT)
    terminal.answer("\x03")  # Ctrl-C on the terminal: SIGINT to goex-db
    terminal.read_until(b"the database was not changed")
    code = terminal.wait()
    assert code == 130
    shown_text = terminal.seen.decode(errors="replace")
    assert "interrupted (SIGINT): action" in shown_text
    assert "was rolled back; the database was not changed" in shown_text
    assert shop.snapshot() == before


def test_a_signal_while_the_model_is_asked_stages_nothing(
    duckdb_shop: ShopDB, fake_llm: FakeLLM
) -> None:
    fake_llm.delay(30)
    running = start(DB, "run", "ship order 1", "--dsn", duckdb_shop.dsn, "--decide", "commit")
    until(lambda: len(fake_llm.requests) == 1, what="the model request")
    running.signal(signal.SIGTERM)
    code, _, err = running.finish()
    assert code == 130
    assert err.endswith("interrupted (SIGTERM)\n")
    assert run(DB, "log", "--format", "json").stdout.strip() == "[]"


def test_a_signal_during_a_commit_lets_the_commit_finish(pg_shop_database: ShopDB) -> None:
    shop = pg_shop_database  # a replay that sleeps on the server: PostgreSQL's pg_sleep
    sql = f"SELECT pg_sleep(3); {ship(shop)}"
    action_id = str(keep_on_clone(shop, sql)["id"])
    running = start(DB, "commit", action_id, "--dsn", shop.dsn)
    until(lambda: running_statements(shop.dsn, "pg_sleep(3)") == 1, what="the replay")
    running.signal(signal.SIGINT)
    code, _, err = running.finish()
    assert code == 130
    assert err.strip().endswith(
        f"interrupted (SIGINT) after action {action_id} was committed; its commit had begun, "
        "so it was finished"
    )
    assert shown(DB, action_id)["status"] == "committed"
    rows = shop.query(f"SELECT count(*) FROM {shop.table('orders')} WHERE status = 'sent'")
    assert rows == [(3,)]
