"""What a person does on goex-review besides approving a held action, each found carried out:
a kept clone action replayed on the database, some paths of a file action, an undo staged and
approved from the history, and a held action that nobody decided."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest

from tests.processes import run, until
from tests.web.actions import DB, FS, keep_fs, project, table
from tests.web.conftest import Client, Review


def decide(client: Client, action_id: str, verdict: str, *paths: str) -> str:
    page = client.get(f"/actions/{action_id}")
    digest = page.body.split('id="digest">', 1)[1].split("<", 1)[0]
    form = [("csrf", page.csrf()), ("digest", digest), ("verdict", verdict)]
    form += [("path", p) for p in paths]
    return client.post(f"/actions/{action_id}/decide", form).body


def the_one_waiting(client: Client) -> str:
    """The id of the one action in the queue, once there is one (an undo being staged)."""
    queued: list[str] = []

    def one_waits() -> bool:
        queued[:] = re.findall(r'<tr data-id="(\w+)"', client.get("/queue/rows").body)
        return len(queued) == 1

    until(one_waits, timeout=60, what="the undo in the queue")
    return queued[0]


def test_a_kept_clone_action_is_replayed_on_the_database(
    review: Review, journal_database: str
) -> None:
    """(A fresh database of its own: clone mode copies the whole database.)"""
    with psycopg.connect(journal_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE stock (id int PRIMARY KEY, n int NOT NULL)")
        conn.execute("INSERT INTO stock VALUES (1, 10), (2, 20)")
    sql = "UPDATE stock SET n = n - 1 WHERE id = 2"
    kept = run(DB, "run", "--dsn", journal_database, "--sql", sql, "--mode", "clone",
               "--decide", "keep", "--format", "json")  # fmt: skip
    assert kept.returncode == 5, kept.stderr
    action_id = json.loads(kept.stdout)["id"]
    client = review.signed_in()
    assert "staged on a clone" in client.get(f"/actions/{action_id}").body
    assert "committed" in decide(client, action_id, "approve")
    with psycopg.connect(journal_database) as conn:
        assert conn.execute("SELECT n FROM stock ORDER BY id").fetchall() == [(10,), (19,)]


def test_only_the_checked_paths_are_committed(review: Review, tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    kept = keep_fs(root, "echo one > one.txt; echo two > two.txt; echo edited >> notes.txt")
    client = review.signed_in()
    split = client.get(f"/actions/{kept.action_id}?view=split").body
    assert '<table class="diff split">' in split and '<td class="add">edited</td>' in split
    assert "committed" in decide(client, kept.action_id, "approve", "one.txt", "notes.txt")
    assert (root / "one.txt").read_text() == "one\n"
    assert (root / "notes.txt").read_text() == "first\nsecond\nedited\n"
    assert not (root / "two.txt").exists()
    assert "only one.txt, notes.txt" in client.get(f"/actions/{kept.action_id}").body


def test_an_undo_from_the_history_waits_in_the_queue(review: Review, pg_dsn: str) -> None:
    rows = table(pg_dsn)
    before = rows.rows()
    sql = f"UPDATE {rows.name} SET v = 'oops' WHERE id > 3"
    done = run(DB, "run", "--dsn", pg_dsn, "--sql", sql, "--decide", "commit", "--format", "json")
    assert done.returncode == 0, done.stderr
    action_id = json.loads(done.stdout)["id"]
    client = review.signed_in()
    page = client.get(f"/actions/{action_id}")
    assert 'id="undo"' in page.body
    assert "Undo of" in client.post(f"/actions/{action_id}/undo", {"csrf": page.csrf()}).body
    undo_id = the_one_waiting(client)
    assert rows.rows() != before  # staged, not applied
    assert "approved" in decide(client, undo_id, "approve")
    until(lambda: rows.rows() == before, timeout=30, what="the rows put back")
    until(lambda: "undone" in client.get(f"/actions/{action_id}").body, what="undone")


def test_what_nobody_decided_is_rolled_back_and_the_page_says_so(
    review: Review, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOEX_REVIEW_TIMEOUT", "1")
    rows = table(pg_dsn)
    held = rows.hold(f"DELETE FROM {rows.name} WHERE id > 2")
    assert held.running.finish(timeout=60)[0] == 3  # rolled back
    page = review.signed_in().get(f"/actions/{held.action_id}").body
    assert "rolled_back" in page and "([review] timeout), so rolled back" in page
    assert len(rows.rows()) == 5


def test_a_file_undo_from_the_history_waits_in_the_queue(review: Review, tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    done = run(FS, "run", "-C", str(root), "--cmd", "echo gone > notes.txt; chmod +x notes.txt",
               "--decide", "commit", "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    action_id = json.loads(done.stdout)["id"]
    client = review.signed_in()
    page = client.get(f"/actions/{action_id}")
    assert "old mode 0644" in page.body and "new mode 0755" in page.body
    assert "Undo of" in client.post(f"/actions/{action_id}/undo", {"csrf": page.csrf()}).body
    undo_id = the_one_waiting(client)
    assert (root / "notes.txt").read_text() == "gone\n"  # staged, not applied
    assert "approved" in decide(client, undo_id, "approve")
    until(lambda: (root / "notes.txt").read_text() == "first\nsecond\n", what="files put back")
    until(lambda: "undone" in client.get(f"/actions/{action_id}").body, what="undone")
