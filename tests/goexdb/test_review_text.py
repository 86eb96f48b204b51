"""What a reviewer reads in goex-db's text review (run, show, diff): locks, rewrites, the first
rows of a read, row images on [d]etails — and bad flags refused in one sentence."""

from __future__ import annotations

import json

from tests.adversarial.terminal import PROMPT, goex_db_on_terminal
from tests.goexdb.conftest import ShopDB
from tests.processes import run

DB = "goexdb.cli"


def test_run_shows_locks_rewrites_sequences_and_the_rows_read(shop: ShopDB) -> None:
    orders = shop.table("orders")
    sql = (
        f"SELECT id, status FROM {orders} WHERE id <= 3 ORDER BY id; "
        f"UPDATE {orders} SET status = 'sent' WHERE id = 2; "
        f"ALTER TABLE {orders} ALTER COLUMN status TYPE varchar(40)"
    )
    done = run(DB, "run", "--dsn", shop.dsn, "--sql", sql, "--decide", "rollback")
    assert done.returncode == 3, done.stderr
    text = done.stdout
    assert "result 1: 3 row(s)" in text and "new" in text  # the first rows of the SELECT
    assert "rows changed (measured)" in text
    if shop.engine == "postgres":  # DuckDB reports neither locks nor relfilenodes
        assert "locks held until commit or rollback" in text
        assert "AccessExclusiveLock" in text and "RowExclusiveLock" in text
        assert "rewrite: every row of" in text and "orders is written anew" in text


def test_show_renders_an_action_as_run_did(duckdb_shop: ShopDB) -> None:
    sql = "UPDATE orders SET status = 'sent' WHERE id <= 2"
    done = run(DB, "run", "--dsn", duckdb_shop.dsn, "--sql", sql, "--decide", "commit",
               "--format", "json")  # fmt: skip
    action_id = json.loads(done.stdout)["id"]
    shown = run(DB, "show", action_id)
    assert shown.returncode == 0, shown.stderr
    for section in ("statements", "rows changed (measured)", "main.orders", "undo after commit"):
        assert section in shown.stdout, section
    assert "{'" not in shown.stdout  # not a Python dict repr
    assert "decision: commit by flag" in shown.stdout


def test_details_at_the_prompt_show_the_row_images(duckdb_shop: ShopDB) -> None:
    terminal = goex_db_on_terminal(
        "run", "--dsn", duckdb_shop.dsn, "--sql", "UPDATE orders SET status = 'x' WHERE id = 4"
    )
    terminal.read_until(PROMPT)
    terminal.seen = b""
    terminal.answer("d\n")
    terminal.read_until(PROMPT)
    details = terminal.seen.decode(errors="replace")
    assert "row images of main.orders" in details
    assert '"status":"new"' in details.replace(" ", "") and '"status":"x"' in details.replace(
        " ", ""
    )
    terminal.answer("r\n")
    terminal.read_until(b"rolled_back")
    assert terminal.wait() == 3


def test_a_negative_timeout_is_a_usage_error(duckdb_shop: ShopDB) -> None:
    before = duckdb_shop.snapshot()
    done = run(DB, "run", "--dsn", duckdb_shop.dsn, "--sql", "DELETE FROM orders",
               "--timeout", "-5")  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "error: --timeout must be a positive number of seconds, not -5\n"
    assert duckdb_shop.snapshot() == before
