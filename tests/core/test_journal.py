from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.action import TRANSITIONS, Action, Decision, Kind, Status, Verdict
from core.errors import JournalError, StateError
from core.journal import FILENAME, SCHEMA_VERSION, Journal, Location, default_path, state_home

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A SQLite journal's file, for what only a file has (its mode, WAL, a corrupt file)."""
    return tmp_path / "state" / "goex" / FILENAME


@pytest.fixture
def journal(location: Location) -> Iterator[Journal]:
    with Journal(location) as opened:
        yield opened


def new_action(code: str = "UPDATE t SET x = 1", **kwargs: object) -> Action:
    fields: dict[str, object] = {"kind": Kind.DB, "target": "duckdb:/data/app.duckdb", "code": code}
    fields.update(kwargs)
    return Action(**fields)  # type: ignore[arg-type]


def statuses(action: Action) -> list[Status]:
    return [s for s, _ in action.history]


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def run_python(code: str, *args: str) -> str:
    done = subprocess.run(
        python(code, *args), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_consistent(location: Location) -> None:
    """Every stored action: a legal history starting at proposed, and a status column that
    matches its last transition."""
    with Journal(location) as journal:
        db = journal._db  # the records as stored
        rows = db.execute("SELECT id, status, created_at, updated_at FROM actions").fetchall()
        for action_id, status, created_at, updated_at in rows:
            history = db.execute(
                "SELECT seq, status, at FROM transitions WHERE action_id = ? ORDER BY seq",
                (action_id,),
            ).fetchall()
            assert [seq for seq, _, _ in history] == list(range(len(history)))
            chain = [Status(s) for _, s, _ in history]
            assert chain[0] is Status.PROPOSED
            for before, after in itertools.pairwise(chain):
                assert after in TRANSITIONS[before]
            assert status == chain[-1].value
            assert (created_at, updated_at) == (history[0][2], history[-1][2])
        orphans = db.execute(
            "SELECT COUNT(*) FROM transitions WHERE action_id NOT IN (SELECT id FROM actions)"
        ).fetchone()[0]
        assert orphans == 0


# -- the file ----------------------------------------------------------------------------------


def test_file_is_private(path: Path) -> None:
    with Journal(path) as journal:
        journal.save(new_action())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for sidecar in path.parent.iterdir():  # -wal and -shm hold the same data
        assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600, sidecar


def test_existing_world_readable_file_is_tightened(path: Path) -> None:
    Journal(path).close()
    os.chmod(path, 0o644)
    Journal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wal_mode_and_schema_version(path: Path) -> None:
    Journal(path).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()
    assert {"actions", "transitions", "effects", "decisions", "undo", "intents"} <= tables


def test_reopening_keeps_everything(location: Location) -> None:
    action = new_action(prompt="set x")
    with Journal(location) as journal:
        journal.save(action)
    with Journal(location) as journal:
        again = journal.get(action.id)
        assert journal.integrity_ok()
    assert again.to_json() == action.to_json()


def test_newer_schema_is_refused(path: Path) -> None:
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(JournalError, match="newer than this goex"):
        Journal(path)


def test_not_a_database_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a sqlite database at all" * 100)
    with pytest.raises(JournalError, match="cannot open journal"):
        Journal(path)


def test_unusable_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(JournalError, match="cannot open journal"):
        Journal(tmp_path / "file" / FILENAME)


def test_target_password_never_reaches_the_file(path: Path) -> None:
    with Journal(path) as journal:
        journal.save(new_action(target="postgresql://app:hunter2-pg-pass@db.internal/prod"))
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert b"hunter2-pg-pass" not in stored
    assert b"db.internal/prod" in stored


# -- where it lives ----------------------------------------------------------------------------


def test_goex_home_overrides_both_sides(tmp_path: Path) -> None:
    home = Path(os.environ["GOEX_HOME"])
    assert state_home() == home
    assert default_path(Kind.DB) == home / FILENAME
    assert default_path(Kind.FS, tmp_path) == home / FILENAME


def test_default_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOEX_HOME")
    xdg = Path(os.environ["XDG_STATE_HOME"])
    assert default_path(Kind.DB) == xdg / "goex" / FILENAME
    assert default_path(Kind.FS, tmp_path) == tmp_path / ".goex" / FILENAME
    assert default_path(Kind.FS) == xdg / "goex" / FILENAME
    monkeypatch.delenv("XDG_STATE_HOME")
    assert state_home() == Path(os.environ["HOME"]) / ".local" / "state" / "goex"


# -- actions -----------------------------------------------------------------------------------


def test_save_and_transition(journal: Journal) -> None:
    action = new_action(prompt="give everyone a raise")
    journal.save(action)
    action.advance(Status.STAGED)
    action.bind({"rows": 3})
    journal.save(action)
    action.advance(Status.COMMITTED)
    journal.save(action)
    loaded = journal.get(action.id)
    assert statuses(loaded) == [Status.PROPOSED, Status.STAGED, Status.COMMITTED]
    assert loaded.history == action.history
    assert (loaded.digest, loaded.prompt, loaded.code) == (
        action.digest,
        action.prompt,
        action.code,
    )


def test_saving_twice_adds_nothing(location: Location, journal: Journal) -> None:
    action = new_action()
    action.advance(Status.STAGED)
    journal.save(action)
    journal.save(action)
    assert statuses(journal.get(action.id)) == [Status.PROPOSED, Status.STAGED]
    assert_consistent(location)


def test_decisions_are_kept_once_each(location: Location, journal: Journal) -> None:
    action = new_action()
    digest = action.bind({"rows": 1})
    action.advance(Status.STAGED)
    keep = Decision(by="user", verdict=Verdict.KEEP, reason="later", digest=digest)
    action.decide(keep)
    journal.save(action)
    journal.save(action)
    commit = Decision(by="user", verdict=Verdict.COMMIT, reason="now", digest=digest)
    action.decide(commit)
    action.advance(Status.COMMITTED)
    journal.save(action)
    assert journal.get(action.id).decision == commit
    rows = journal._db.execute("SELECT verdict FROM decisions ORDER BY seq").fetchall()
    assert [tuple(r) for r in rows] == [("keep",), ("commit",)]


def test_get_by_prefix(journal: Journal) -> None:
    a = new_action(id="abc0000001")
    b = new_action(id="abc0000002")
    c = new_action(id="xyz0000001")
    for action in (a, b, c):
        journal.save(action)
    assert journal.get("abc0000001").id == a.id
    assert journal.get("abc0000002").code == b.code
    assert journal.get("x").id == c.id
    with pytest.raises(StateError, match="ambiguous"):
        journal.get("abc")
    with pytest.raises(StateError, match="no action with id 'nope'"):
        journal.get("nope")


def test_prefix_wildcards_are_literal(journal: Journal) -> None:
    journal.save(new_action(id="abc0000001"))
    for pattern in ("%", "_", "a%", "ab_"):
        with pytest.raises(StateError, match="no action"):
            journal.get(pattern)


def test_recent(journal: Journal) -> None:
    ids = []
    for i in range(5):
        action = new_action(code=f"SELECT {i}", kind=Kind.DB if i % 2 else Kind.FS)
        journal.save(action)
        ids.append(action.id)
    assert [a.id for a in journal.recent()] == ids[::-1]
    assert [a.id for a in journal.recent(limit=2)] == ids[:2:-1]
    assert [a.id for a in journal.recent(Kind.DB)] == [ids[3], ids[1]]
    assert [a.kind for a in journal.recent(Kind.FS)] == [Kind.FS] * 3


def test_stale_copy_is_refused_in_the_same_process(location: Location, journal: Journal) -> None:
    action = new_action()
    action.advance(Status.STAGED)
    journal.save(action)
    with Journal(location) as other:
        theirs = other.get(action.id)
        theirs.advance(Status.COMMITTED)
        other.save(theirs)
    action.advance(Status.ROLLED_BACK)
    with pytest.raises(StateError, match="changed by another process"):
        journal.save(action)
    assert journal.get(action.id).status is Status.COMMITTED
    assert_consistent(location)


def test_stale_copy_is_refused_after_another_process_advanced_it(
    location: Location, journal: Journal
) -> None:
    action = new_action()
    action.advance(Status.STAGED)
    journal.save(action)
    stale = journal.get(action.id)
    run_python(
        "import sys; from pathlib import Path\n"
        "from core.action import Status\n"
        "from core.journal import Journal\n"
        "with Journal(sys.argv[1]) as j:\n"
        "    a = j.get(sys.argv[2]); a.advance(Status.COMMITTED); j.save(a)\n",
        str(location),
        action.id,
    )
    # Saving the copy as it was, or moved on differently, would both rewrite history.
    with pytest.raises(StateError, match="changed by another process"):
        journal.save(stale)
    action.advance(Status.REJECTED)
    with pytest.raises(StateError, match="changed by another process"):
        journal.save(action)
    assert statuses(journal.get(action.id)) == [Status.PROPOSED, Status.STAGED, Status.COMMITTED]
    assert_consistent(location)


def test_a_different_action_with_the_same_id_is_never_merged(
    location: Location, journal: Journal
) -> None:
    first = new_action(code="DELETE FROM a", id="same000001")
    first.advance(Status.STAGED)
    journal.save(first)
    second = new_action(code="DELETE FROM b", id="same000001")
    second.advance(Status.STAGED)
    with pytest.raises(StateError, match="already used by another action"):
        journal.save(second)
    assert journal.get("same000001").code == "DELETE FROM a"
    assert_consistent(location)


def test_a_new_action_whose_id_was_taken_gets_a_fresh_one(
    location: Location, journal: Journal
) -> None:
    first = new_action(code="DELETE FROM a", id="same000002")
    journal.save(first)
    second = new_action(code="DELETE FROM b", id="same000002")
    journal.save(second)  # never saved before: another process took its id in the same ms
    assert second.id != "same000002"
    assert journal.get("same000002").code == "DELETE FROM a"
    assert journal.get(second.id).code == "DELETE FROM b"
    assert_consistent(location)


# -- effects, undo, intents --------------------------------------------------------------------


def test_effects(journal: Journal) -> None:
    action = new_action()
    journal.save(action)
    assert journal.effects(action.id) is None
    journal.set_effects(action.id, {"tables": {"t": {"updated": 2}}})
    journal.set_effects(action.id, {"tables": {"t": {"updated": 3}}})
    assert journal.effects(action.id) == {"tables": {"t": {"updated": 3}}}


def test_writes_for_an_unknown_action_fail_cleanly(journal: Journal) -> None:
    with pytest.raises(JournalError, match="cannot write journal"):
        journal.set_effects("0000000000", {"rows": 1})
    with pytest.raises(JournalError):
        journal.begin_intent("0000000000", "commit", {})
    action = new_action()
    journal.save(action)  # the failed writes left no transaction open
    assert journal.get(action.id).id == action.id
    assert journal.pending_intents() == []


def test_an_undo_record_is_kept_compressed_and_read_back_exactly(journal: Journal) -> None:
    action = new_action()
    journal.save(action)
    images = [[json.dumps({"id": i, "note": f"row {i}", "n": "1.50"}), None] for i in range(2000)]
    record = {"images": [{"table": "public.t", "images": images}], "dialect": "postgres"}
    journal.set_undo(action.id, data=record)
    assert journal.undo_data(action.id) == (record, None)
    assert journal.undo_size(action.id) < len(json.dumps(record)) / 4
    # a record written before compression, as plain JSON, is read as it was
    journal._db.execute("UPDATE undo SET data = ? WHERE action_id = ?", ('{"old": 1}', action.id))
    assert journal.undo_data(action.id) == ({"old": 1}, None)


def test_undo_data_inline_or_pointer(journal: Journal) -> None:
    action = new_action()
    journal.save(action)
    assert journal.undo_data(action.id) == (None, None)
    journal.set_undo(action.id, data={"rows": [{"id": 1, "x": "old"}]})
    assert journal.undo_data(action.id) == ({"rows": [{"id": 1, "x": "old"}]}, None)
    journal.set_undo(action.id, pointer="/state/undo/abc.tar")
    assert journal.undo_data(action.id) == (None, "/state/undo/abc.tar")
    with pytest.raises(ValueError, match="exactly one"):
        journal.set_undo(action.id)
    with pytest.raises(ValueError, match="exactly one"):
        journal.set_undo(action.id, data={}, pointer="/x")
    assert journal.undo_data(action.id) == (None, "/state/undo/abc.tar")


def test_intents(location: Location, journal: Journal) -> None:
    a, b = new_action(), new_action()
    journal.save(a)
    journal.save(b)
    first = journal.begin_intent(a.id, "commit", {"digest": "d1"})
    second = journal.begin_intent(b.id, "undo", {"paths": ["x"]})
    assert journal.pending_intents() == [
        (first, a.id, "commit", {"digest": "d1"}),
        (second, b.id, "undo", {"paths": ["x"]}),
    ]
    journal.finish_intent(first)
    journal.finish_intent(first)  # finishing twice is harmless
    with Journal(location) as reopened:  # what recover sees
        assert reopened.pending_intents() == [(second, b.id, "undo", {"paths": ["x"]})]
    journal.finish_intent(second)
    assert journal.pending_intents() == []
    assert journal.intents_of(a.id) == [(first, "commit", {"digest": "d1"}, True)]
    assert journal.intents_of("nothing") == []


def test_what_a_batch_writes_after_its_commit_point_is_kept(location: Location) -> None:
    """The proxy's batch: the intent is durable before the step, the records saying it is done
    are written without a sync of their own, and the journal's later writes are synced again."""
    action = new_action()
    with Journal(location) as journal, Journal(location) as other:
        with journal.batch():
            journal.save(action)
            action.advance(Status.STAGED)
            journal.save(action)
            intent = journal.begin_intent(action.id, "commit", {"digest": "d"})
            journal.commit_point()
            assert [i for i, *_ in other.pending_intents()] == [intent]  # committed: visible
            action.advance(Status.COMMITTED)
            journal.save(action)
            journal.finish_intent(intent)
            if isinstance(location, Path):
                assert _sync_level(journal) == 1  # NORMAL: the WAL is synced with a later write
        assert other.pending_intents() == []
        assert statuses(other.get(action.id)) == [Status.PROPOSED, Status.STAGED, Status.COMMITTED]
        if isinstance(location, Path):
            assert _sync_level(journal) == 2  # FULL again for every write after the batch
        journal.save(new_action())
    assert_consistent(location)


def _sync_level(journal: Journal) -> int:
    return int(journal._db.execute("PRAGMA synchronous").fetchone()[0])


def test_threads_of_one_process_take_turns_at_writing(location: Location) -> None:
    """Each thread its own connection (as the proxy's sessions): none loses a write, none waits
    on a write that failed, and a batch keeps the others out until it is made durable."""
    waiter_done = threading.Event()

    def waiter() -> None:
        with Journal(location) as journal:
            journal.save(new_action())
        waiter_done.set()

    with Journal(location) as holder, Journal(location) as failing:
        with pytest.raises(JournalError):  # a write that fails lets the next one in
            failing.set_effects("no-such-action", {})
        thread = threading.Thread(target=waiter)
        with holder.batch():
            holder.save(new_action())
            thread.start()
            assert not waiter_done.wait(0.3)  # the batch holds the journal
        thread.join(30)
        assert waiter_done.is_set()

    def worker(n: int) -> None:
        with Journal(location) as journal:
            for i in range(20):
                action = new_action(f"UPDATE t SET w = {n}", id=f"t{n}{i:08d}")
                with journal.batch():
                    journal.save(action)
                    action.advance(Status.STAGED)
                    journal.save(action)
                    journal.commit_point()
                    action.advance(Status.COMMITTED)
                    journal.save(action)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    with Journal(location) as journal:
        committed = [a for a in journal.recent(limit=1000) if a.id.startswith("t")]
        assert len(committed) == 120
        assert all(a.status is Status.COMMITTED for a in committed)
    assert_consistent(location)


# -- real processes ----------------------------------------------------------------------------

WORKER = """
import sys
from core.action import Action, Kind, Status
from core.journal import Journal

location, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()  # start together
with Journal(location) as journal:
    for i in range(count):
        # Ids are given (10 characters, disjoint per worker): this test is about the journal.
        action = Action(Kind.DB, "duckdb:/w.duckdb", f"UPDATE t SET w = {worker}",
                        id=f"w{worker}{i:08d}")
        journal.save(action)
        action.advance(Status.STAGED)
        action.bind({"rows": i})
        journal.save(action)
        journal.set_effects(action.id, {"rows": i, "worker": worker})
        action.advance(Status.COMMITTED if i % 2 else Status.ROLLED_BACK)
        journal.save(action)
print("done", flush=True)
"""


def test_two_processes_writing_at_once(location: Location) -> None:
    count = 200
    procs = [
        subprocess.Popen(
            python(WORKER, str(location), str(w), str(count)),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    try:
        for proc in procs:  # both opened nothing yet; the journal does not exist
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out == "done\n"

    with Journal(location) as journal:
        assert journal.integrity_ok()
        actions = journal.recent(limit=10 * count)
        assert len(actions) == 2 * count
        for action in actions:
            worker, i = action.id[1], int(action.id[2:])
            final = Status.COMMITTED if i % 2 else Status.ROLLED_BACK
            assert statuses(action) == [Status.PROPOSED, Status.STAGED, final]
            assert action.code == f"UPDATE t SET w = {worker}"
            assert journal.effects(action.id) == {"rows": i, "worker": worker}
    assert_consistent(location)


WRITER = """
import sys
from core.action import Action, Kind, Status
from core.journal import Journal

journal = Journal(sys.argv[1])
i = 0
while True:
    action = Action(Kind.FS, "/project", f"touch f{i}", prompt="make files " * 200)
    journal.save(action)
    print(action.id, flush=True)
    action.advance(Status.STAGED)
    action.bind({"files": i})
    journal.save(action)
    journal.set_effects(action.id, {"files": [f"f{i}"] * 100})
    intent = journal.begin_intent(action.id, "commit", {"i": i})
    journal.set_undo(action.id, data={"pre": "x" * 4000})
    action.advance(Status.COMMITTED)
    journal.save(action)
    journal.finish_intent(intent)
    i += 1
"""


def test_process_killed_mid_write(location: Location) -> None:
    printed: list[str] = []
    for _ in range(3):  # three kills at arbitrary points, each on the journal the last left
        proc = subprocess.Popen(
            python(WRITER, str(location)), cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            for _ in range(40):
                line = proc.stdout.readline()
                assert line, "the writer died on its own"
                printed.append(line.strip())
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

    with Journal(location) as journal:
        assert journal.integrity_ok()
        stored = {a.id: a for a in journal.recent(limit=100_000)}
        assert set(printed) <= set(stored)  # every save that returned survived the kill
        for action in stored.values():
            assert statuses(action) in (
                [Status.PROPOSED],
                [Status.PROPOSED, Status.STAGED],
                [Status.PROPOSED, Status.STAGED, Status.COMMITTED],
            )
        pending = {aid for _, aid, _, _ in journal.pending_intents()}
        for aid in pending:  # a begun, unfinished commit: recover has what it needs
            assert stored[aid].status in (Status.STAGED, Status.COMMITTED)
        done = [a for a in stored.values() if a.status is Status.COMMITTED and a.id not in pending]
        assert done, "no action got through a whole commit"
        for action in done:
            assert journal.undo_data(action.id) == ({"pre": "x" * 4000}, None)
    assert_consistent(location)
