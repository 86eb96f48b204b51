"""Focused tests for the holes the file-action corpus found in goexfs (each also has its case in
tests/adversarial/fs/), and one known gap, kept as a strict xfail so that it is seen."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from goexfs.backends.staging import remove_tree
from goexfs.project import secret_files
from goexfs.sandbox.bwrap import bwrap_argv, command_path
from goexfs.sandbox.limits import limited_command, process_cap
from tests.adversarial.fs.corpus import BACKENDS, Places
from tests.adversarial.fs.runner import BASE, clean_environment, goex_fs_argv
from tests.support import require


def test_a_staged_tree_1000_levels_deep_without_permissions_is_removed(tmp_path: Path) -> None:
    """shutil.rmtree recursed once per level: a command nesting 1,000 directories made the
    rollback crash with a RecursionError and left the staged copy behind."""
    top = deep = tmp_path / "staged"
    top.mkdir()
    for _ in range(1000):  # Path.mkdir(parents=True) and os.makedirs recurse too
        deep = deep / "d"
        deep.mkdir()
    (deep / "f").write_text("x")
    (top / "d").chmod(0)
    remove_tree(top)
    assert not top.exists()


def test_secret_files_are_covered_by_dev_null_over_the_staged_tree() -> None:
    argv = bwrap_argv(
        "bwrap",
        root=Path("/p/root"),
        tree=Path("/p/root/.goex/t"),
        command="ls",
        hidden_files=[".env", "keys/id_rsa"],
    )
    bind = argv.index("--bind")
    for rel in (".env", "keys/id_rsa"):
        at = argv.index(f"/p/root/{rel}")
        assert argv[at - 2 : at] == ["--ro-bind", "/dev/null"] and at > bind
    if Path("/run").is_dir() and not Path("/run").is_symlink():
        assert argv[argv.index("/run") - 1] == "--tmpfs"  # host sockets live there


def test_secret_files_are_the_secret_looking_regular_files(tmp_path: Path) -> None:
    for rel in (".env", "config/.env.local", "id_rsa", "src/app.py", ".goex/x.pem"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x", encoding="utf-8")
    (tmp_path / "cert.pem").symlink_to("/etc/ssl/cert.pem")  # a link: never bound over
    assert secret_files(tmp_path) == [".env", "config/.env.local", "id_rsa"]


def test_the_command_path_names_no_home_and_nothing_relative() -> None:
    home = str(Path.home())
    path = os.pathsep.join([f"{home}/.local/bin", ".", "bin", "/usr/bin", "/root/.cargo/bin"])
    assert command_path(path) == "/usr/bin"


def test_the_file_size_limit_stops_a_write_past_it(tmp_path: Path) -> None:
    argv = limited_command("head -c 4096 /dev/zero > big", max_file_bytes=1024)
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, check=False)
    assert proc.returncode != 0
    assert (tmp_path / "big").stat().st_size <= 1024


def test_the_process_cap_stops_a_fork_storm() -> None:
    with process_cap(10) as prefix:
        require(prefix != [], "no writable pids cgroup (needs root or cgroup delegation)")
        group = Path(prefix[2].split("> ")[1].split(" &&")[0].strip("'")).parent
        assert (group / "pids.max").read_text().strip() == "10"
        proc = subprocess.run(
            [*prefix, "/bin/sh", "-c", "for i in $(seq 30); do sleep 1 & done; wait"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "fork" in proc.stderr.lower()
    assert not group.exists()


@pytest.fixture
def places() -> Iterator[Places]:
    base = Path(tempfile.mkdtemp(prefix="goex-gap-", dir=BASE))
    places = Places(base / "project", base / "outside", base / "home", "", "gap")
    for path in (places.root, places.outside, places.home):
        path.mkdir()
    yield places
    subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.mark.needs("bwrap")
def test_the_text_report_never_passes_escape_sequences_to_the_terminal(places: Places) -> None:
    """Command output, file names and diffs with raw escape sequences reached the reviewer's
    terminal: a command could clear the screen and paint "no changes" before the question."""
    command = (
        r'printf "\033[2J\033[HNo changes\n"; touch "$(printf "x\033[31my")"; '
        r'printf "a\033]0;title\007b\n" > d.txt'
    )
    argv, extra = goex_fs_argv(
        BACKENDS[0], "run", "--dir", str(places.root), "--cmd", command, "--decide", "rollback"
    )
    env = {**clean_environment(places), **extra, "TERM": "xterm-256color"}
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 3, proc.stderr
    shown = proc.stdout.decode()
    assert "\x1b" not in shown and "\x07" not in shown
    for visible in (r"\x1b[2J\x1b[HNo changes", r"a\x1b]0;title\x07b"):
        assert visible in shown
    assert r"x\033[31my" in shown  # a file name is C-quoted, as git does


@pytest.mark.needs("bwrap")
@pytest.mark.xfail(
    strict=True,
    reason="known gap: a unix socket the command can see outside /run can be connected to "
    "(a read-only mount does not stop connect); closing it needs a seccomp or Landlock filter",
)
def test_known_gap_a_unix_socket_outside_run(places: Places) -> None:
    path = places.outside / "agent.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(1)
    listener.setblocking(False)
    code = f"import socket; socket.socket(socket.AF_UNIX).connect('{path}')"
    argv, extra = goex_fs_argv(
        BACKENDS[0],
        "run",
        "--dir",
        str(places.root),
        "--cmd",
        f'python3 -c "{code}"',
        "--decide",
        "rollback",
    )
    env = {**clean_environment(places), **extra}
    subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    try:
        listener.accept()[0].close()
        reached = True
    except BlockingIOError:
        reached = False
    finally:
        listener.close()
    assert not reached
