"""Crash safety: ``goex-fs commit`` and ``goex-fs undo``, real processes, SIGKILLed at every
internal step (``GOEX_FAULT_KILL_AT``, see goexfs/apply/faults.py) and at random moments; after
``recover`` the directory is byte for byte — paths, types, modes, contents, symlink targets —
in exactly its before-state or its after-state, and the journal says which.

Trial counts are parameters: ``GOEX_CRASH_TRIALS`` (commit, default 150: every named step and
every single filesystem operation of the apply once, then random moments) and
``GOEX_CRASH_UNDO_TRIALS`` (undo, default 50): 200 trials in every run of the suite, as the
README's Guarantees state; ``GOEX_CRASH_SEED`` fixes the random moments. The first trials
kill at each named step and at each filesystem operation of the apply, in order; the rest at
random moments of a real run. A longer run: ``GOEX_CRASH_TRIALS=500 GOEX_CRASH_UNDO_TRIALS=200
pytest tests/goexfs/test_crash.py``.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.action import Kind, Status, Verdict
from core.config import Config, FsConfig
from core.journal import Journal, default_path
from core.secrets import SecretStore
from goexfs.apply import faults
from goexfs.apply.recover import recover
from goexfs.session import reopen, stage, undo
from tests.goexfs.conftest import Snapshot, decision_for, snapshot

TRIALS = int(os.environ.get("GOEX_CRASH_TRIALS", "150"))
UNDO_TRIALS = int(os.environ.get("GOEX_CRASH_UNDO_TRIALS", "50"))
SEED = int(os.environ.get("GOEX_CRASH_SEED", "20261121"))
REPORT = os.environ.get("GOEX_CRASH_REPORT")  # read now: the tests run in a cleaned environment
COMMIT_STEPS = ("commit.checked", "commit.preimages")  # before the apply intent
COMMIT_LATE = ("commit.intent", "commit.applied", "commit.finished")
UNDO_STEPS = ("undo.checked", "undo.intent")
UNDO_LATE = ("undo.applied",)

# Every kind of change: modified, added (nested), deleted (a whole tree), mode, symlink
# retargeted, file -> dir, dir -> symlink, binary, odd names, an empty directory, read-only.
COMMAND = (
    "echo more >> README.md; printf 'changed\\000bin' > data.bin; chmod 700 run.sh; "
    "rm -r old; mkdir -p new/deep/empty; echo guide > new/deep/guide.md; "
    "rm link && ln -s new/deep link; rm notes.txt && mkdir notes.txt && echo inside > "
    "notes.txt/x; rm -r tree && ln -s README.md tree; printf 'odd' > \"$(printf 'sp ace\\nnl')\"; "
    "printf 'caf\\351' > \"$(printf 'caf\\351.txt')\"; chmod 444 ro.txt; echo w >> big.txt"
)


def build_project(root: Path) -> None:
    (root / "old" / "sub").mkdir(parents=True)
    (root / "tree" / "a").mkdir(parents=True)
    (root / "README.md").write_text("# demo\n")
    (root / "data.bin").write_bytes(bytes(range(256)))
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "run.sh").chmod(0o755)
    (root / "old" / "one.txt").write_text("one\n")
    (root / "old" / "sub" / "two.txt").write_text("two\n")
    (root / "tree" / "a" / "b.txt").write_text("b\n")
    (root / "notes.txt").write_text("notes\n")
    (root / "ro.txt").write_text("read only soon\n")
    (root / "big.txt").write_bytes(b"x" * 300_000)
    (root / "link").symlink_to("README.md")


@dataclass
class Setup:
    root: Path
    action_id: str
    before: Snapshot
    after: Snapshot


def keep_one(root: Path, journal: Journal) -> Setup:
    """A project with one action kept staged (unsandboxed: the command is ours)."""
    build_project(root)
    before = snapshot(root)
    config = Config(fs=FsConfig(sandbox="none", backend="copy"))
    run = stage(root, COMMAND, config=config, secrets=SecretStore.load(), journal=journal)
    assert run.result.exit_status == 0, run.result.stderr
    run.carry_out(decision_for(run, Verdict.KEEP))
    return Setup(root, run.action.id, before, snapshot(run.staging.view))


def goex_fs(*args: str, kill_at: str | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop(faults.ENV, None)
    # the person is the test: deletions and binary changes need no terminal here
    env["GOEX_POLICY_DISABLE"] = "fs.review-deletes,fs.review-binary"
    if kill_at is not None:
        env[faults.ENV] = kill_at
    return subprocess.Popen(
        [sys.executable, "-m", "goexfs.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_and_wait(proc: subprocess.Popen[bytes], delay: float | None) -> int:
    """Wait for the process, killing it after delay seconds if it is still running."""
    if delay is not None:
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    return proc.returncode


def apply_operations(tmp: Path) -> int:
    """How many single filesystem operations the apply of COMMAND's commit makes."""
    root = tmp / "count"
    root.mkdir()
    with Journal(tmp / "count.sqlite3") as journal:
        setup = keep_one(root, journal)
        start = faults.hits("apply")
        reopen(root, journal, setup.action_id).commit(by="user")
    assert snapshot(root) == setup.after
    return faults.hits("apply") - start


@pytest.fixture(scope="module")
def commit_ops(tmp_path_factory: pytest.TempPathFactory) -> int:
    return apply_operations(tmp_path_factory.mktemp("ops"))


def timed(*args: str, kill_at: str | None = None) -> float:
    """Wall time of one goex-fs process (to its death, with kill_at)."""
    start = time.monotonic()
    code = kill_and_wait(goex_fs(*args, kill_at=kill_at), None)
    assert code == (-signal.SIGKILL if kill_at else 0), code
    return time.monotonic() - start


def window(base: Path, undoing: bool) -> tuple[float, float]:
    """When a ``goex-fs commit`` (or ``undo``) process does its work here: from about when it
    has checked for conflicts to when it is done (medians of three runs each). Random kills
    land in this window rather than in the interpreter's start-up."""
    checked, done = [], []
    for run in range(6):
        kill_at = ("undo.checked" if undoing else "commit.checked") if run % 2 == 0 else None
        root = base / f"project-{run}"
        root.mkdir()
        with Journal(default_path(Kind.FS, root)) as journal:
            setup = keep_one(root, journal)
            if undoing:
                reopen(root, journal, setup.action_id).commit(by="user")
        verb = "undo" if undoing else "commit"
        took = timed(verb, setup.action_id, "-C", str(root), kill_at=kill_at)
        with Journal(default_path(Kind.FS, root)) as journal:
            recover(root, journal)  # leave no pending intent in a journal a test may share
        (checked if kill_at else done).append(took)
    return 0.8 * statistics.median(checked), statistics.median(done)


@pytest.fixture(scope="module")
def commit_window(tmp_path_factory: pytest.TempPathFactory) -> tuple[float, float]:
    return window(tmp_path_factory.mktemp("commit-timing"), undoing=False)


@pytest.fixture(scope="module")
def undo_window(tmp_path_factory: pytest.TempPathFactory) -> tuple[float, float]:
    return window(tmp_path_factory.mktemp("undo-timing"), undoing=True)


@pytest.fixture
def fs_journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(default_path(Kind.FS, tmp_path / "project")) as journal:
        yield journal


def schedule(
    trial: int, steps: list[str], rng: random.Random, request: pytest.FixtureRequest, timing: str
) -> tuple[str | None, float | None]:
    """(fault point, None) for the first trials, then (None, a random moment of a run); the
    timing fixture is only measured when a random trial needs it."""
    if trial < len(steps):
        return steps[trial], None
    low, high = request.getfixturevalue(timing)
    return None, rng.uniform(low, high)


def note(kind: str, point: str | None, delay: float | None, code: int, outcome: str) -> None:
    """With GOEX_CRASH_REPORT=FILE, one line per trial: how the outcomes are distributed."""
    if REPORT:
        killed = "killed" if code == -signal.SIGKILL else f"exit {code}"
        with open(REPORT, "a", encoding="utf-8") as report:
            report.write(f"{kind}\t{point or 'random'}\t{delay or 0:.3f}\t{killed}\t{outcome}\n")


def check_end_state(setup: Setup, journal: Journal, action_id: str) -> str:
    """The directory is exactly before or after; the journal agrees; nothing is left over."""
    results = recover(setup.root, journal)
    now = snapshot(setup.root)
    assert now in (setup.before, setup.after), f"neither before nor after: {results}"
    state = "after" if now == setup.after else "before"
    assert journal.pending_intents() == []
    assert recover(setup.root, journal) == []  # idempotent
    status = journal.get(action_id).status
    return f"{state}:{status.value}"


@pytest.mark.parametrize("trial", range(TRIALS))
def test_commit_killed_then_recovered(
    trial: int,
    tmp_path: Path,
    fs_journal: Journal,
    commit_ops: int,
    request: pytest.FixtureRequest,
) -> None:
    steps = [
        *COMMIT_STEPS,
        *COMMIT_LATE,
        *(f"apply:{n}" for n in range(1, commit_ops + 1)),
    ]
    point, delay = schedule(trial, steps, random.Random(SEED + trial), request, "commit_window")
    setup = keep_one(tmp_path / "project", fs_journal)
    proc = goex_fs("commit", setup.action_id, "-C", str(setup.root), kill_at=point)
    code = kill_and_wait(proc, delay)
    if point is not None:
        assert code == -signal.SIGKILL, f"{point} was never reached (exit {code})"
    outcome = check_end_state(setup, fs_journal, setup.action_id)
    note("commit", point, delay, code, outcome)
    # before:staged — killed before the commit began (still kept, nothing to recover)
    assert outcome in ("before:failed", "after:committed", "before:staged"), (point, delay)
    if outcome == "before:staged":
        assert point is None
        return
    if point in COMMIT_STEPS:
        assert outcome == "before:failed"  # nothing was applied before the intent
    if point is not None and (point.startswith("apply") or point in COMMIT_LATE):
        assert outcome == "after:committed"  # the staged copy was intact: rolled forward
    staged = fs_journal.effects(setup.action_id) or {}
    assert not Path(staged["stage"]["location"]).exists()  # the staged copy was discarded


def test_a_commit_is_rolled_back_when_its_staged_copy_is_gone(
    tmp_path: Path, fs_journal: Journal
) -> None:
    setup = keep_one(tmp_path / "project", fs_journal)
    proc = goex_fs("commit", setup.action_id, "-C", str(setup.root), kill_at="apply:9")
    assert kill_and_wait(proc, None) == -signal.SIGKILL
    assert snapshot(setup.root) not in (setup.before, setup.after)  # really half-applied
    location = Path((fs_journal.effects(setup.action_id) or {})["stage"]["location"])
    (location / "tree" / "README.md").write_text("tampered\n")
    assert check_end_state(setup, fs_journal, setup.action_id) == "before:failed"


def test_commands_refuse_while_a_commit_is_interrupted(tmp_path: Path, fs_journal: Journal) -> None:
    setup = keep_one(tmp_path / "project", fs_journal)
    proc = goex_fs("commit", setup.action_id, "-C", str(setup.root), kill_at="apply:3")
    assert kill_and_wait(proc, None) == -signal.SIGKILL
    for args in (("run", "--cmd", "true"), ("commit", setup.action_id), ("undo", "x")):
        done = goex_fs(*args, "-C", str(setup.root))
        _, err = done.communicate(timeout=60)
        assert done.returncode == 1
        assert b"was interrupted; run goex-fs recover first" in err
    done = goex_fs("recover", "-C", str(setup.root))
    out, _ = done.communicate(timeout=60)
    assert done.returncode == 0
    assert f"commit of action {setup.action_id}: rolled forward; now committed".encode() in out
    assert snapshot(setup.root) == setup.after


def test_gc_keeps_what_an_interrupted_commit_needs(tmp_path: Path, fs_journal: Journal) -> None:
    setup = keep_one(tmp_path / "project", fs_journal)
    proc = goex_fs("commit", setup.action_id, "-C", str(setup.root), kill_at="apply:7")
    assert kill_and_wait(proc, None) == -signal.SIGKILL
    internal = setup.root / ".goex"
    held = sorted(p.name for p in (*internal.glob("staged/*"), *internal.glob("undo/*")))
    assert len(held) == 2
    old = time.time() - 365 * 86_400
    for path in (*internal.glob("staged/*"), *internal.glob("undo/*")):
        os.utime(path, (old, old))
    gc = goex_fs("gc", "-C", str(setup.root), "--max-age-days", "0", "--max-bytes", "0")
    out, err = gc.communicate(timeout=60)
    assert gc.returncode == 0, err
    assert b"freed 0 bytes in 0 item(s)" in out
    assert sorted(p.name for p in (*internal.glob("staged/*"), *internal.glob("undo/*"))) == held
    assert check_end_state(setup, fs_journal, setup.action_id) == "after:committed"


def test_two_commits_of_one_action_at_once(tmp_path: Path, fs_journal: Journal) -> None:
    """The project lock: one commit applies, the other stops before writing anything, and the
    pre-images stay those of the before-state (undo restores it exactly)."""
    setup = keep_one(tmp_path / "project", fs_journal)
    procs = [goex_fs("commit", setup.action_id, "-C", str(setup.root)) for _ in range(2)]
    results = sorted((p.wait(timeout=120), p.communicate()[1]) for p in procs)
    assert [code for code, _ in results] == [0, 1], results
    assert results[1][1].startswith(b"error: ")  # not kept any more, or its copy is gone
    assert recover(setup.root, fs_journal) == []  # the loser stopped before any intent
    assert snapshot(setup.root) == setup.after
    assert fs_journal.get(setup.action_id).status is Status.COMMITTED
    undo(setup.root, setup.action_id, journal=fs_journal)
    assert snapshot(setup.root) == setup.before


def test_recover_itself_killed_then_run_again(tmp_path: Path, fs_journal: Journal) -> None:
    setup = keep_one(tmp_path / "project", fs_journal)
    proc = goex_fs("commit", setup.action_id, "-C", str(setup.root), kill_at="apply:12")
    assert kill_and_wait(proc, None) == -signal.SIGKILL
    for point in ("apply:2", "apply:5"):  # recover dies half-way, twice
        proc = goex_fs("recover", "-C", str(setup.root), kill_at=point)
        assert kill_and_wait(proc, None) == -signal.SIGKILL
    assert check_end_state(setup, fs_journal, setup.action_id) == "after:committed"


@pytest.mark.parametrize("trial", range(UNDO_TRIALS))
def test_undo_killed_then_recovered(
    trial: int, tmp_path: Path, fs_journal: Journal, request: pytest.FixtureRequest
) -> None:
    kept = keep_one(tmp_path / "project", fs_journal)
    reopen(kept.root, fs_journal, kept.action_id).commit(by="user")
    # the undo goes from the commit's after-state back to its before-state
    setup = Setup(kept.root, kept.action_id, kept.after, kept.before)
    steps = [*UNDO_STEPS, *UNDO_LATE, *(f"apply:{n}" for n in range(1, 28))]
    point, delay = schedule(trial, steps, random.Random(SEED - trial), request, "undo_window")
    proc = goex_fs("undo", kept.action_id, "-C", str(kept.root), kill_at=point)
    code = kill_and_wait(proc, delay)
    if point is not None:
        assert code == -signal.SIGKILL, f"{point} was never reached (exit {code})"
    # this project's newest action (the timing fixture journals its own runs too)
    undo_action = fs_journal.recent(Kind.FS, 1, target=str(kept.root))[0]
    outcome = check_end_state(setup, fs_journal, kept.action_id)
    note("undo", point, delay, code, outcome)
    if outcome == "before:committed":  # killed before the undo began: it never happened
        assert undo_action.id == kept.action_id or undo_action.prompt == f"undo {kept.action_id}"
        assert point in (None, "undo.checked")
    else:
        assert outcome == "after:undone", (point, delay, outcome)
        assert fs_journal.get(undo_action.id).status is Status.COMMITTED


def test_crash_hook_is_inert_without_the_variable(tmp_path: Path) -> None:
    start = time.monotonic()
    faults.fault_point("nothing.here")
    assert faults.hits("nothing.here") >= 1 and time.monotonic() - start < 5
