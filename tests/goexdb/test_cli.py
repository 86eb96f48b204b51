"""goex-db end to end: a real process, a real database, the journal, the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from tests.fake_llm import FakeLLM
from tests.goexdb.conftest import ShopDB


def goex_db(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goexdb.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    done = goex_db("run", *args, "--format", "json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_rollback_exits_3_and_changes_nothing(shop: ShopDB) -> None:
    before = shop.snapshot()
    code, report = run_json(
        "--dsn",
        shop.dsn,
        "--sql",
        f"DELETE FROM {shop.table('orders')} WHERE id < 10",
        "--decide",
        "rollback",
    )
    assert code == 3
    assert report["status"] == "rolled_back"
    assert report["statements"] == [
        {"sql": f"DELETE FROM {shop.table('orders')} WHERE id < 10", "kind": "dml", "rowcount": 9}
    ]
    assert shop.snapshot() == before
    shown = json.loads(goex_db("show", report["id"], "--format", "json").stdout)
    assert [h["status"] for h in shown["history"]] == ["proposed", "staged", "rolled_back"]
    assert shown["decision"]["digest"] == report["digest"] == shown["digest"]


def test_commit_exits_0_and_applies(shop: ShopDB) -> None:
    code, report = run_json(
        "--dsn",
        shop.dsn,
        "--sql",
        f"UPDATE {shop.table('orders')} SET status = 'x' WHERE id = 3",
        "--decide",
        "commit",
    )
    assert code == 0, report
    assert shop.query(f"SELECT status FROM {shop.table('orders')} WHERE id = 3") == [("x",)]


def test_policy_rejects_an_unfiltered_update_with_exit_4(shop: ShopDB) -> None:
    before = shop.snapshot()
    code, report = run_json(
        "--dsn",
        shop.dsn,
        "--sql",
        f"UPDATE {shop.table('orders')} SET status = 'x'",
        "--decide",
        "commit",
    )
    assert code == 4
    assert {v["rule"] for v in report["violations"]} >= {"db.unfiltered-write"}
    assert report["decision"]["by"] == "policy"
    assert shop.snapshot() == before


def test_policy_file_limits_rows(shop: ShopDB, tmp_path: Path) -> None:
    policy = tmp_path / "strict.toml"
    policy.write_text("[policy]\nmax_rows_per_table = 5\n")
    before = shop.snapshot()
    code, report = run_json(
        "--dsn",
        shop.dsn,
        "--sql",
        f"DELETE FROM {shop.table('orders')} WHERE id <= 6",
        "--decide",
        "policy",
        "--policy",
        str(policy),
    )
    assert code == 4
    assert [v["rule"] for v in report["violations"]] == ["db.max-rows-table"]
    assert shop.snapshot() == before


def test_malformed_sql_is_one_sentence_and_changes_nothing(shop: ShopDB) -> None:
    before = shop.snapshot()
    done = goex_db("run", "--dsn", shop.dsn, "--sql", "DELETE FROM WHERE AND", "--decide", "commit")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert shop.snapshot() == before


def test_missing_dsn_is_a_clear_error() -> None:
    done = goex_db("run", "--sql", "SELECT 1")
    assert done.returncode == 1
    assert done.stderr == "error: no database given: pass --dsn or set GOEX_DSN or DATABASE_URL\n"


def test_no_sql_and_no_prompt_is_a_usage_error(duckdb_shop: ShopDB) -> None:
    done = goex_db("run", "--dsn", duckdb_shop.dsn)
    assert done.returncode == 2
    assert "give a PROMPT" in done.stderr


def test_ask_without_a_terminal_rolls_back_and_says_so(duckdb_shop: ShopDB) -> None:
    before = duckdb_shop.snapshot()
    code, report = run_json(
        "--dsn", duckdb_shop.dsn, "--sql", "DELETE FROM orders WHERE id = 1", "--decide", "ask"
    )
    assert code == 3
    assert "no terminal" in report["decision"]["reason"]
    assert duckdb_shop.snapshot() == before


def test_sql_from_stdin(duckdb_shop: ShopDB) -> None:
    done = goex_db(
        "run",
        "--dsn",
        duckdb_shop.dsn,
        "--sql-file",
        "-",
        "--decide",
        "commit",
        stdin="INSERT INTO customers VALUES (500, 'from stdin', NULL);",
    )
    assert done.returncode == 0, done.stderr
    assert duckdb_shop.query("SELECT name FROM customers WHERE id = 500") == [("from stdin",)]


def test_duckdb_sql_cannot_reach_files(duckdb_shop: ShopDB, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\nTOPSECRET\n")
    done = goex_db(
        "run",
        "--dsn",
        duckdb_shop.dsn,
        "--decide",
        "commit",
        "--sql",
        f"SELECT * FROM read_csv('{secret}')",
    )
    assert done.returncode == 1
    assert "TOPSECRET" not in done.stdout + done.stderr
    out = tmp_path / "out.csv"
    done = goex_db(
        "run", "--dsn", duckdb_shop.dsn, "--decide", "commit", "--sql", f"COPY orders TO '{out}'"
    )
    assert done.returncode == 4
    assert not out.exists()


def test_prompt_goes_to_the_model_with_schema_but_no_data_or_password(
    pg_dsn: str, fake_llm: FakeLLM, shop: ShopDB
) -> None:
    fake_llm.reply(f"```sql\nUPDATE {shop.table('orders')} SET status = 'sent' WHERE id = 5;\n```")
    code, report = run_json(
        "mark order 5 as sent",
        "--dsn",
        shop.dsn,
        "--decide",
        "commit",
    )
    assert code == 0, report
    assert shop.query(f"SELECT status FROM {shop.table('orders')} WHERE id = 5") == [("sent",)]
    (request,) = fake_llm.requests
    sent = json.dumps(request.json)
    assert "mark order 5 as sent" in sent
    assert "customer_id" in sent  # the schema
    assert "@example.com" not in sent  # no data rows
    shown = json.loads(goex_db("show", report["id"], "--format", "json").stdout)
    assert shown["prompt"] == "mark order 5 as sent"


def test_llm_judge_decides(duckdb_shop: ShopDB, fake_llm: FakeLLM) -> None:
    fake_llm.reply('```json\n{"verdict": "rollback", "reason": "deletes more than asked"}\n```')
    before = duckdb_shop.snapshot()
    code, report = run_json(
        "delete order 1",
        "--dsn",
        duckdb_shop.dsn,
        "--sql",
        "DELETE FROM orders WHERE id < 50",
        "--decide",
        "llm",
    )
    assert code == 3
    assert report["decision"]["by"].startswith("llm:")
    assert report["decision"]["reason"] == "deletes more than asked"
    assert duckdb_shop.snapshot() == before
    judged = json.dumps(fake_llm.requests[0].json)
    assert "DELETE FROM orders WHERE id < 50" in judged and '\\"deleted\\": 49' in judged


def test_log_lists_actions_newest_first(duckdb_shop: ShopDB) -> None:
    for n in (1, 2):
        goex_db("run", "--dsn", duckdb_shop.dsn, "--sql", f"SELECT {n}", "--decide", "commit")
    listed = json.loads(goex_db("log", "--format", "json").stdout)
    assert [a["code"] for a in listed] == ["SELECT 2", "SELECT 1"]


def test_help_lists_the_commands() -> None:
    done = goex_db("--help")
    assert done.returncode == 0
    for command in ("run", "log", "show"):
        assert command in done.stdout


def test_undo_restores_a_committed_action_and_marks_it_undone(shop: ShopDB) -> None:
    before = shop.snapshot()
    code, report = run_json(
        "--dsn",
        shop.dsn,
        "--decide",
        "commit",
        "--sql",
        f"UPDATE {shop.table('orders')} SET status = 'lost' WHERE id <= 5; "
        f"DELETE FROM {shop.table('customers')} WHERE id = 30",
    )
    assert (code, report["reversible"]) == (0, True)
    assert shop.snapshot() != before
    done = goex_db(
        "undo", report["id"], "--dsn", shop.dsn, "--decide", "commit", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    undo_report = json.loads(done.stdout)
    assert undo_report["status"] == "committed"
    assert shop.snapshot() == before
    original = json.loads(goex_db("show", report["id"], "--format", "json").stdout)
    assert original["status"] == "undone"
    again = goex_db("undo", report["id"], "--dsn", shop.dsn, "--decide", "commit")
    assert again.returncode == 1
    assert "only a committed action can be undone" in again.stderr


def test_undo_is_refused_when_a_row_changed_since(duckdb_shop: ShopDB) -> None:
    code, report = run_json(
        "--dsn",
        duckdb_shop.dsn,
        "--decide",
        "commit",
        "--sql",
        "UPDATE orders SET status = 'sent' WHERE id IN (1, 2)",
    )
    assert code == 0
    with duckdb.connect(str(duckdb_shop.dsn.removeprefix("duckdb:"))) as con:
        con.execute("UPDATE orders SET status = 'returned' WHERE id = 2")
    after = duckdb_shop.snapshot()
    done = goex_db("undo", report["id"], "--decide", "commit")  # the target comes from the journal
    assert done.returncode == 1
    assert "undo refused: 1 row(s) of main.orders changed since" in done.stderr
    assert duckdb_shop.snapshot() == after
    shown = json.loads(goex_db("show", report["id"], "--format", "json").stdout)
    assert shown["status"] == "committed"


def test_an_irreversible_action_says_so_and_undo_refuses(
    duckdb_shop: ShopDB, tmp_path: Path
) -> None:
    allow = tmp_path / "allow-drop.toml"
    allow.write_text("[policy]\nallow_drop = true\n")
    code, report = run_json(
        "--dsn",
        duckdb_shop.dsn,
        "--decide",
        "commit",
        "--policy",
        str(allow),
        "--sql",
        "ALTER TABLE orders DROP COLUMN status",
    )
    assert code == 0, report
    assert report["reversible"] is False
    assert report["effects"]["irreversible"] == ["column main.orders.status was dropped"]
    done = goex_db("undo", report["id"], "--decide", "commit")
    assert done.returncode == 1
    assert "cannot be undone: column main.orders.status was dropped" in done.stderr


def test_undo_needs_the_same_database(duckdb_shop: ShopDB, tmp_path: Path) -> None:
    code, report = run_json(
        "--dsn",
        duckdb_shop.dsn,
        "--decide",
        "commit",
        "--sql",
        "DELETE FROM orders WHERE id = 1",
    )
    assert code == 0
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    done = goex_db("undo", report["id"], "--dsn", f"duckdb:{other}")
    assert done.returncode == 2
    assert f"ran on {duckdb_shop.dsn}" in done.stderr


def test_denied_function_is_rejected_before_running(pg_dsn: str, shop: ShopDB) -> None:
    before = shop.snapshot()
    done = goex_db(
        "run",
        "--dsn",
        pg_dsn,
        "--decide",
        "commit",
        "--sql",
        f"DELETE FROM {shop.table('orders')}; SELECT pg_read_file('/etc/passwd')",
    )
    assert done.returncode == 4
    assert "pg_read_file" in done.stderr
    assert shop.snapshot() == before


def test_log_filters_by_database(duckdb_shop: ShopDB, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    goex_db("run", "--dsn", duckdb_shop.dsn, "--sql", "SELECT 1", "--decide", "commit")
    goex_db("run", "--dsn", f"duckdb:{other}", "--sql", "SELECT 2", "--decide", "commit")
    listed = json.loads(goex_db("log", "--dsn", f"duckdb:{other}", "--format", "json").stdout)
    assert [a["code"] for a in listed] == ["SELECT 2"]


def test_ask_on_a_real_terminal_shows_effects_then_commits(duckdb_shop: ShopDB) -> None:
    """The default mode, on a pseudo-terminal: the effects are shown, 'd' shows them again,
    'c' commits."""
    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: goex-db on the terminal
        os.execv(
            sys.executable,
            [
                sys.executable,
                "-m",
                "goexdb.cli",
                "run",
                "--dsn",
                duckdb_shop.dsn,
                "--sql",
                "UPDATE orders SET status = 'asked' WHERE id = 4",
            ],
        )
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        while marker not in seen:
            chunk = os.read(fd, 4096)
            assert chunk, seen.decode(errors="replace")
            seen += chunk

    read_until(b"Apply these effects?")
    assert b"main.orders" in seen  # the measured effects came before the question
    seen = b""
    os.write(fd, b"d\n")
    read_until(b"Apply these effects?")
    assert b"main.orders" in seen  # shown again
    os.write(fd, b"c\n")
    read_until(b"committed")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert duckdb_shop.query("SELECT status FROM orders WHERE id = 4") == [("asked",)]
