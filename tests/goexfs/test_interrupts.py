"""SIGINT and SIGTERM sent to real goex-fs processes at several moments: the directory is left
untouched (or a commit under way finished), the staged copy removed — an overlay unmounted, a
btrfs snapshot deleted — the journal says why, one line on stderr, exit 130."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.adversarial.terminal import Terminal
from tests.conftest import staging_mounts
from tests.goexfs.conftest import snapshot
from tests.goexfs.test_cli_kept import keep
from tests.goexfs.test_decide import held
from tests.processes import SIGNALS, run, shown, start, until

FS = "goexfs.cli"
ROLLED_BACK = re.compile(
    r"interrupted \((SIGINT|SIGTERM)\): action (\w+) was rolled back; (\S+) was not changed\n$"
)
SLOW = "echo half > half.txt; sleep {seconds}; echo late > late.txt"


def staged_copies(project: Path) -> list[Path]:
    staged = project / ".goex" / "staged"
    return sorted(staged.iterdir()) if staged.is_dir() else []


def assert_rolled_back(err: str, project: Path, signum: int) -> str:
    found = ROLLED_BACK.search(err)
    assert found, err
    assert found.group(1) == signal.Signals(signum).name and found.group(3) == str(project)
    action = shown(FS, found.group(2), "-C", str(project))
    assert action["status"] == "rolled_back"
    assert action["decision"]["reason"] == f"interrupted ({signal.Signals(signum).name})"
    return found.group(2)


def project_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A small project where the backend works: on a loop-mounted btrfs for btrfs (a
    subvolume) and reflink, in the temporary directory for the others."""
    place = tmp_path
    if backend in ("btrfs", "reflink"):
        place = request.getfixturevalue("btrfs_mount") / uuid.uuid4().hex
        place.mkdir()
    root = place / "project"
    if backend == "btrfs":
        subprocess.run(["btrfs", "subvolume", "create", str(root)], check=True, capture_output=True)
    else:
        root.mkdir()
    (root / "README.md").write_text("# demo\n")
    return root


@pytest.mark.parametrize(
    ("backend", "signum"),
    [
        ("overlay", signal.SIGINT),
        ("btrfs", signal.SIGTERM),
        ("reflink", signal.SIGINT),
        ("git", signal.SIGTERM),
        ("copy", signal.SIGINT),
        ("copy", signal.SIGTERM),
    ],
)
def test_a_signal_while_the_command_runs(
    tmp_path: Path, request: pytest.FixtureRequest, bwrap: str, backend: str, signum: int
) -> None:
    project = project_for(backend, tmp_path, request)
    before = snapshot(project)
    seconds = f"60.{random.randrange(10**6):06d}"  # its own sleep, to be found among processes
    running = start(FS, "run", "-C", str(project), "--cmd", SLOW.format(seconds=seconds),
                    "--decide", "commit", "--backend", backend)  # fmt: skip
    until(lambda: running_command(f"sleep {seconds}"), what="the command")
    running.signal(signum)
    code, _, err = running.finish()
    assert code == 130, err
    assert err.count("\n") == 1  # one line
    assert_rolled_back(err, project, signum)
    assert snapshot(project) == before
    assert staged_copies(project) == []
    assert not any(str(project) in point for point in staging_mounts())
    assert not running_command(f"sleep {seconds}")  # the sandboxed command was killed
    if backend == "btrfs":  # no snapshot left behind
        listed = subprocess.run(["btrfs", "subvolume", "list", "-o", str(project)],
                                capture_output=True, text=True, check=True)  # fmt: skip
        assert ".goex/staged/" not in listed.stdout, listed.stdout


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_while_waiting_for_a_person(project: Path, bwrap: str, signum: int) -> None:
    before = snapshot(project)
    waiting = held(project)
    waiting.running.signal(signum)
    code, out, err = waiting.running.finish()
    assert code == 130
    assert json.loads(out)["status"] == "rolled_back"
    assert assert_rolled_back(err, project, signum) == waiting.action_id
    assert snapshot(project) == before
    assert staged_copies(project) == []


def test_ctrl_c_at_the_prompt(project: Path, bwrap: str) -> None:
    import pty
    import sys

    before = snapshot(project)
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(project)
        os.execv(sys.executable, [sys.executable, "-m", FS, "run", "--cmd", "echo x > x.txt"])
    terminal = Terminal(pid, fd)
    terminal.read_until(b"Apply these effects?")
    terminal.answer("\x03")
    terminal.read_until(b"was not changed")
    assert terminal.wait() == 130
    assert b"interrupted (SIGINT): action" in terminal.seen
    assert snapshot(project) == before
    assert staged_copies(project) == []


@pytest.mark.parametrize("step", ["commit.intent", "apply:2", "commit.applied"])
def test_a_signal_during_a_commit_lets_it_finish(
    project: Path, bwrap: str, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    action_id = keep(project, "echo one > one.txt; echo two > two.txt; echo more >> README.md")
    monkeypatch.setenv("GOEX_FAULT_KILL_AT", step)
    monkeypatch.setenv("GOEX_FAULT_SIGNAL", "INT")
    done = run(FS, "commit", action_id, "-C", str(project))
    assert done.returncode == 130
    assert done.stderr == (
        f"interrupted (SIGINT) after action {action_id} was committed; its commit had begun, "
        "so it was finished\n"
    )
    assert (project / "one.txt").read_text() == "one\n"
    assert (project / "two.txt").read_text() == "two\n"
    assert (project / "README.md").read_text() == "# demo\nmore\n"
    assert shown(FS, action_id, "-C", str(project))["status"] == "committed"
    monkeypatch.delenv("GOEX_FAULT_KILL_AT")
    assert json.loads(run(FS, "recover", "-C", str(project), "-f", "json").stdout) == []


def test_a_signal_during_an_undo_lets_it_finish(
    project: Path, bwrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(project)
    committed = run(FS, "run", "-C", str(project), "--cmd", "echo a > a.txt; echo b >> README.md",
                    "--decide", "commit", "-f", "json")  # fmt: skip
    action_id = json.loads(committed.stdout)["id"]
    monkeypatch.setenv("GOEX_FAULT_KILL_AT", "undo.intent")
    monkeypatch.setenv("GOEX_FAULT_SIGNAL", "TERM")
    done = run(FS, "undo", action_id, "-C", str(project))
    assert done.returncode == 130
    assert "interrupted (SIGTERM) after action" in done.stderr
    assert snapshot(project) == before
    assert shown(FS, action_id, "-C", str(project))["status"] == "undone"


def running_command(command: str) -> bool:
    """Whether some process runs ``command`` (its arguments joined by spaces)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                raw = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            if raw.replace(b"\0", b" ").strip() == command.encode():
                return True
    return False
