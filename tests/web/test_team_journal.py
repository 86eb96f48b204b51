"""A team journal on PostgreSQL (``[journal] url``): two machines, simulated by two goex homes
that share nothing but the journal's database, see one log and one queue — an action held on
one is approved from the other, woken by NOTIFY, and undone from the other again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import Running
from tests.web.actions import DB, table
from tests.web.conftest import serve

WAITING = r"waiting for a person until \S+ \S+ approve (\w+) --digest (\w+)"


def home(base: Path, name: str, journal_url: str) -> dict[str, str]:
    """The environment of one machine: its own home, config and state, the shared journal."""
    env = dict(os.environ)
    for key, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state")):
        (base / name / sub).mkdir(parents=True, exist_ok=True)
        env[key] = str(base / name / sub)
    env.pop("GOEX_HOME", None)
    env["GOEX_JOURNAL_URL"] = journal_url
    return env


def hold(env: dict[str, str], dsn: str, sql: str) -> tuple[Running, str, str]:
    """goex-db run --decide person on this machine: the process, the action's id and digest."""
    argv = [sys.executable, "-m", DB, "run", "--dsn", dsn, "--sql", sql, "--decide", "person"]
    held = Running(
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    )
    action_id, digest = held.read_err_until(WAITING).groups()
    return held, action_id, digest


def goex_db(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", DB, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_two_machines_share_one_log_queue_and_undo(
    tmp_path: Path, pg_dsn: str, journal_database: str
) -> None:
    rows = table(pg_dsn)
    before = rows.rows()
    one, two = home(tmp_path, "one", journal_database), home(tmp_path, "two", journal_database)
    sql = f"UPDATE {rows.name} SET v = 'shared' WHERE id <= 2"
    held, action_id, digest = hold(one, pg_dsn, sql)
    queued = goex_db(two, "log", "--format", "json")
    assert action_id in queued.stdout, queued.stderr
    started = time.monotonic()
    approve = goex_db(two, "approve", action_id, "--digest", digest)
    assert approve.returncode == 0, approve.stderr
    code, _, err = held.finish(timeout=60)
    assert code == 0, err
    assert time.monotonic() - started < 5  # woken by NOTIFY, then committed
    assert rows.rows()[:2] == [(1, "shared"), (2, "shared")]
    undo = goex_db(two, "undo", action_id, "--dsn", pg_dsn, "--decide", "commit")
    assert undo.returncode == 0, undo.stderr
    assert rows.rows() == before
    shown = goex_db(one, "show", action_id, "--format", "json")
    assert '"status": "undone"' in shown.stdout, shown.stdout
    for machine in (one, two):  # neither wrote a journal file of its own
        state = Path(machine["XDG_STATE_HOME"])
        assert not list(state.rglob("journal.sqlite3"))


def test_a_project_file_cannot_move_the_journal(tmp_path: Path, journal_database: str) -> None:
    (tmp_path / "goex.toml").write_text(f'[journal]\nurl = "{journal_database}"\n')
    env = home(tmp_path, "one", "")
    env.pop("GOEX_JOURNAL_URL")
    done = subprocess.run(
        [sys.executable, "-m", DB, "log"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "journal.url may only be set" in done.stderr


@pytest.mark.parametrize("url", ["sqlite:///tmp/x", "postgresql://nobody@127.0.0.1:9/none"])
def test_a_bad_journal_url_is_one_clear_error(tmp_path: Path, url: str) -> None:
    env = home(tmp_path, "one", url)
    done = goex_db(env, "log")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_the_review_page_serves_the_team_journal(
    tmp_path: Path, pg_dsn: str, journal_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = table(pg_dsn)
    one = home(tmp_path, "one", journal_database)
    sql = f"DELETE FROM {rows.name} WHERE id = 5"
    held, action_id, digest = hold(one, pg_dsn, sql)
    monkeypatch.delenv("GOEX_HOME")  # the reviewer's machine: only the journal is shared
    monkeypatch.setenv("GOEX_JOURNAL_URL", journal_database)
    server = serve()
    try:
        client = server.client()
        assert client.sign_in(user="", password="", token=server.token).status == 200
        assert action_id in client.get("/queue/rows").body
        form = {"csrf": client.get("/").csrf(), "digest": digest, "verdict": "approve"}
        assert "approved" in client.post(f"/actions/{action_id}/decide", form).body
        assert held.finish(timeout=60)[0] == 0
        assert [i for i, _ in rows.rows()] == [1, 2, 3, 4]
    finally:
        server.running.proc.terminate()
        server.running.finish(timeout=30)
