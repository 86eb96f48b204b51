"""Decisions from another process (--decide person, approve, reject) and kept clone actions,
each through real goex-db processes on a real database."""

from __future__ import annotations

import json
import time

import pytest

from tests.goexdb.conftest import ShopDB
from tests.goexdb.test_clone import clones_left
from tests.processes import Held, run, shown, start_held

DB = "goexdb.cli"


def held(shop: ShopDB, sql: str, *extra: str) -> Held:
    return start_held(DB, "run", "--dsn", shop.dsn, "--sql", sql, "--format", "json", *extra)


def ship(shop: ShopDB) -> str:
    return f"UPDATE {shop.table('orders')} SET status = 'sent' WHERE id <= 3"


def sent(shop: ShopDB) -> int:
    rows = shop.query(f"SELECT count(*) FROM {shop.table('orders')} WHERE status = 'sent'")
    return int(rows[0][0])


def test_a_person_approves_from_another_process(shop: ShopDB) -> None:
    waiting = held(shop, ship(shop))
    if shop.engine == "postgres":  # (a DuckDB file is locked by the process that holds it)
        assert sent(shop) == 0  # held, not committed
    started = time.monotonic()
    approve = run(DB, "approve", waiting.action_id, "--digest", waiting.digest)
    assert approve.returncode == 0, approve.stderr
    assert "decision: commit by person:" in approve.stdout  # what the holder did, reported
    code, out, err = waiting.running.finish()
    assert time.monotonic() - started < 10  # picked up within a second, then committed
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "committed"
    assert report["decision"]["by"].startswith("person:")
    assert sent(shop) == 3
    # A decision is single-use: a second approve (or a reject) is refused.
    again = run(DB, "reject", waiting.action_id, "--digest", waiting.digest)
    assert again.returncode == 1
    assert "not waiting for a decision" in again.stderr


def test_a_person_rejects_with_a_reason(duckdb_shop: ShopDB) -> None:
    shop = duckdb_shop  # the queue is the same for every engine (approve runs on both)
    before = shop.snapshot()
    waiting = held(shop, ship(shop))
    reject = run(DB, "reject", waiting.action_id, "--reason", "wrong orders")
    assert reject.returncode == 4, reject.stderr  # the action's code once its process ended it
    assert "decision: reject by person:" in reject.stdout
    code, out, _ = waiting.running.finish()
    assert code == 4
    assert json.loads(out)["status"] == "rejected"
    assert shop.snapshot() == before
    decision = shown(DB, waiting.action_id)["decision"]
    assert decision["verdict"] == "reject" and decision["reason"] == "wrong orders"


def test_a_stale_digest_is_refused_and_the_action_still_waits(pg_shop: ShopDB) -> None:
    shop = pg_shop  # PostgreSQL: the held rows can be read meanwhile
    before = shop.snapshot()
    waiting = held(shop, ship(shop))
    stale = run(DB, "approve", waiting.action_id, "--digest", "0" * 64)
    assert stale.returncode == 1
    assert stale.stderr.startswith("error: digest 0000000000000000 is not that of action")
    assert waiting.running.proc.poll() is None  # still held, still waiting
    assert shop.snapshot() == before
    assert run(DB, "reject", waiting.action_id).returncode == 4
    code, _, _ = waiting.running.finish()
    assert code == 4
    assert shop.snapshot() == before


def test_nobody_decides_before_the_timeout_so_it_is_rolled_back(
    duckdb_shop: ShopDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = duckdb_shop
    before = shop.snapshot()
    monkeypatch.setenv("GOEX_REVIEW_TIMEOUT", "1")
    waiting = held(shop, ship(shop))
    code, out, _ = waiting.running.finish()
    assert code == 3
    report = json.loads(out)
    assert report["status"] == "rolled_back"
    assert report["decision"]["by"] == "timeout"
    assert shop.snapshot() == before
    late = run(DB, "approve", waiting.action_id, "--digest", waiting.digest)
    assert late.returncode == 1 and "not waiting" in late.stderr


def test_keep_is_refused_in_transaction_mode(duckdb_shop: ShopDB) -> None:
    before = duckdb_shop.snapshot()
    done = run(DB, "run", "--dsn", duckdb_shop.dsn, "--sql", ship(duckdb_shop), "--decide", "keep")
    assert done.returncode == 2
    assert done.stderr == (
        "error: a transaction cannot outlive its process, so --decide keep needs --mode clone\n"
    )
    assert duckdb_shop.snapshot() == before


def keep_on_clone(shop: ShopDB, sql: str) -> dict[str, object]:
    done = run(
        DB, "run", "--dsn", shop.dsn, "--sql", sql, "--mode", "clone", "--decide", "keep",
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 5, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_a_kept_clone_action_is_listed_shown_and_committed_later(shop_database: ShopDB) -> None:
    shop = shop_database
    report = keep_on_clone(shop, ship(shop))
    action_id = str(report["id"])
    assert report["status"] == "staged"
    assert sent(shop) == 0
    assert clones_left(shop)  # the clone is kept, with the action's effects on it
    listed = json.loads(run(DB, "list", "--format", "json").stdout)
    assert [a["id"] for a in listed] == [action_id]
    diff = run(DB, "diff", action_id)
    assert diff.returncode == 0 and "rows changed" in diff.stdout and "3" in diff.stdout
    commit = run(DB, "commit", action_id, "--dsn", shop.dsn, "--format", "json")
    assert commit.returncode == 0, commit.stderr
    assert json.loads(commit.stdout)["status"] == "committed"
    assert sent(shop) == 3
    assert clones_left(shop) == []
    assert json.loads(run(DB, "list", "--format", "json").stdout) == []
    # ... and, committed by replay, it can be undone from the real database's rows.
    undo = run(DB, "undo", action_id, "--dsn", shop.dsn, "--decide", "commit")
    assert undo.returncode == 0, undo.stderr
    assert sent(shop) == 0


def test_a_kept_clone_action_is_rolled_back_later(pg_shop_database: ShopDB) -> None:
    shop = pg_shop_database  # (listed and committed later on both engines, above)
    before = shop.snapshot()
    action_id = str(keep_on_clone(shop, ship(shop))["id"])
    gc = run(DB, "gc", "--dsn", shop.dsn, "--format", "json")
    assert gc.returncode == 0, gc.stderr
    assert json.loads(gc.stdout)["dropped"] == []  # a kept action's clone is not garbage
    rollback = run(DB, "rollback", action_id, "--dsn", shop.dsn)
    assert rollback.returncode == 3, rollback.stderr
    assert shop.snapshot() == before
    assert clones_left(shop) == []
    assert shown(DB, action_id)["status"] == "rolled_back"


def test_approve_commits_a_kept_action_here(duckdb_shop: ShopDB) -> None:
    shop = duckdb_shop
    report = keep_on_clone(shop, ship(shop))
    approve = run(
        DB, "approve", str(report["id"]), "--digest", str(report["digest"]), "--dsn", shop.dsn
    )
    assert approve.returncode == 0, approve.stderr
    assert sent(shop) == 3
    assert clones_left(shop) == []
    assert shown(DB, str(report["id"]))["decision"]["by"].startswith("person:")


def test_a_kept_action_whose_database_changed_is_not_committed(
    pg_shop_database: ShopDB,
) -> None:
    shop = pg_shop_database
    action_id = str(keep_on_clone(shop, f"DELETE FROM {shop.table('orders')} WHERE id <= 5")["id"])
    run(
        DB, "run", "--dsn", shop.dsn, "--sql", f"DELETE FROM {shop.table('orders')} WHERE id = 1",
        "--decide", "commit",
    )  # fmt: skip
    before = shop.snapshot()
    commit = run(DB, "commit", action_id, "--dsn", shop.dsn)
    assert commit.returncode == 1
    assert "did not do what they did on the clone" in commit.stderr
    assert shop.snapshot() == before
    assert shown(DB, action_id)["status"] == "failed"


def test_a_kept_action_policy_refuses_cannot_be_committed_later(duckdb_shop: ShopDB) -> None:
    shop = duckdb_shop
    before = shop.snapshot()
    report = keep_on_clone(shop, f"DELETE FROM {shop.table('orders')}")  # no WHERE: refused
    assert "db.unfiltered-write" in {v["rule"] for v in report["violations"]}  # type: ignore[union-attr]
    action_id, digest = str(report["id"]), str(report["digest"])
    for refused in (
        run(DB, "commit", action_id, "--dsn", shop.dsn),
        run(DB, "approve", action_id, "--digest", digest, "--dsn", shop.dsn),
    ):
        assert refused.returncode == 4, refused.stderr
        assert refused.stderr.startswith("error: policy refuses this commit")
    assert shop.snapshot() == before
    assert [a["id"] for a in json.loads(run(DB, "list", "--format", "json").stdout)] == [action_id]
    assert run(DB, "rollback", action_id, "--dsn", shop.dsn).returncode == 3
