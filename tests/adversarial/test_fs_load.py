"""Ten concurrent ``goex-fs run`` processes in one directory keep separate staged trees and
one journal: all ten are staged at once (ten staged copies exist together while the real
directory is still unchanged), each action has its own id and its own staged copy (it sees
only its own change),
the journal in the project's .goex holds exactly ten actions, rolling back leaves the directory
as it was, and committing disjoint files lands all ten."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.action import Kind, Status
from core.journal import Journal
from tests.adversarial.fs.corpus import BACKENDS, Places
from tests.adversarial.fs.runner import (
    BASE,
    WALL_TIMEOUT,
    clean_environment,
    goex_fs_argv,
    tree_state,
)

pytestmark = pytest.mark.needs("bwrap")  # every test runs goex-fs with its default sandbox

CONCURRENT_SESSIONS = 10
# Each command marks its start, waits for the test's "go" in the outside directory (visible,
# read-only, in the sandbox; at most 60 s), lists what it sees and writes its own file.
COMMAND = (
    "echo {n} > started-{n}; i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.1; "
    "i=$((i + 1)); done; ls; echo session {n} > file-{n}.txt"
)


def _sessions(
    root: Path, places: Places, backend: str, decide: str, command: str = COMMAND
) -> list[tuple[int, str, dict[str, Any] | None]]:
    """Start the sessions; once all ten staged copies exist at once (and the real directory is
    still as it was), let the commands finish; returns (exit code, stderr, report) of each."""
    env = clean_environment(places)
    go = places.outside / "go"
    before = tree_state(root, skip_top=(".goex",))
    procs = []
    for n in range(CONCURRENT_SESSIONS):
        argv, extra = goex_fs_argv(
            backend,
            "run",
            "--dir",
            str(root),
            "--cmd",
            command.format(n=n, go=go),
            "--decide",
            decide,
            "--format",
            "json",
        )
        procs.append(
            subprocess.Popen(
                argv, env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    staged = root / ".goex" / "staged"
    deadline = time.monotonic() + WALL_TIMEOUT
    while len(list(staged.glob("*"))) < CONCURRENT_SESSIONS:
        assert all(p.poll() is None for p in procs), "a session ended before all were staged"
        assert time.monotonic() < deadline, "the ten sessions were never staged at once"
        time.sleep(0.05)
    assert tree_state(root, skip_top=(".goex",)) == before  # nothing reached it yet
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=WALL_TIMEOUT)
        assert b"Traceback" not in err
        results.append((proc.returncode, err.decode(), json.loads(out) if out else None))
    return results


@pytest.fixture
def places() -> Iterator[Places]:
    base = Path(tempfile.mkdtemp(prefix="goex-load-", dir=BASE))
    places = Places(base / "project", base / "outside", base / "home", "", "load")
    for path in (places.root, places.outside, places.home):
        path.mkdir()
    (places.root / "README.md").write_text("# shared\n")
    yield places
    subprocess.run(["rm", "-rf", str(base)], check=False)


# Disjoint commits all landing needs the before side recorded at staging (copy). A lazy one
# (overlay) reads it at diff time, guarded by the directory's ctime: once one session commits
# into the directory, the others' commits there are refused as conflicts, nothing applied (the
# README's "Staging backends" states this limit); rollback holds on every backend.
SESSIONS = [("rollback", backend) for backend in BACKENDS] + [("commit", "copy")]


@pytest.mark.parametrize(("decide", "backend"), SESSIONS)
def test_ten_sessions_in_one_directory(places: Places, backend: str, decide: str) -> None:
    root = places.root
    before = tree_state(root, skip_top=(".goex",))

    results = _sessions(root, places, backend, decide)
    assert [code for code, _, _ in results] == [0 if decide == "commit" else 3] * 10, results
    reports = [report for _, _, report in results if report is not None]

    ids = {r["id"] for r in reports}
    assert len(ids) == CONCURRENT_SESSIONS
    for n, report in enumerate(reports):
        # its own staged copy: it saw only its own files, never another session's
        assert sorted(c["path"] for c in report["changes"]) == [f"file-{n}.txt", f"started-{n}"]
        assert f"started-{(n + 1) % CONCURRENT_SESSIONS}" not in report["output"]["stdout"]
    journal_path = root / ".goex" / "journal.sqlite3"  # goex-fs's default, without GOEX_HOME
    assert sorted(p.name for p in (root / ".goex").glob("*.sqlite3")) == ["journal.sqlite3"]
    with Journal(journal_path) as journal:
        actions = journal.recent(Kind.FS, 100)
        assert {a.id for a in actions} == ids
        locations = set()
        for action in actions:
            effects = journal.effects(action.id)
            assert effects is not None
            locations.add(effects["stage"]["location"])
            final = Status.COMMITTED if decide == "commit" else Status.ROLLED_BACK
            assert action.status is final
    assert len(locations) == CONCURRENT_SESSIONS
    assert list((root / ".goex" / "staged").iterdir()) == []  # every staged copy is gone

    after = tree_state(root, skip_top=(".goex",))
    if decide == "rollback":
        assert after == before
    else:
        for n in range(CONCURRENT_SESSIONS):
            assert (root / f"file-{n}.txt").read_text() == f"session {n}\n"
        assert len(after) == len(before) + 2 * CONCURRENT_SESSIONS


@pytest.mark.parametrize("backend", BACKENDS)
def test_ten_sessions_committing_the_same_file_one_wins(places: Places, backend: str) -> None:
    """Found by this test: two sessions could both pass the conflict check and both commit,
    one change silently lost. Commits now take the project's lock: exactly one lands, the
    other nine are refused as conflicts and change nothing."""
    command = (
        "i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; "
        "echo session {n} > README.md"
    )
    results = _sessions(places.root, places, backend, "commit", command)
    winners = [n for n, (code, _, _) in enumerate(results) if code == 0]
    assert len(winners) == 1, results
    for code, err, _ in results:
        if code != 0:
            assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
            assert "changed in the directory since the action was staged, so nothing" in err
    assert (places.root / "README.md").read_text() == f"session {winners[0]}\n"
