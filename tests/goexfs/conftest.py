"""Fixtures for goexfs: a real project directory, real bubblewrap, a journal, a runner."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.action import Decision, Verdict
from core.config import Config, load_config
from core.journal import Journal
from core.secrets import SecretStore
from goexfs.session import Staged, stage
from tests.support import require

Snapshot = dict[str, tuple[str, int, bytes | str | None]]


def snapshot(root: Path, *, skip_internal: bool = True) -> Snapshot:
    """Everything under root: type, mode and contents (or link target), .goex left out."""
    result: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if skip_internal and rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != ".goex"]
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = os.path.normpath(os.path.join(rel_dir, name))
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                result[rel] = ("symlink", 0, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                result[rel] = ("dir", mode, None)
            else:
                result[rel] = ("file", mode, path.read_bytes())
    return result


def sandboxed_python(arguments: str) -> str:
    """A shell command running this interpreter inside the sandbox, which clears the
    environment: an ordinary user's run of the tests (tests/ordinary_user.py) finds libpython
    and the packages through LD_LIBRARY_PATH and PYTHONPATH, passed on here."""
    passed = [
        f"{name}={shlex.quote(value)}"
        for name in ("LD_LIBRARY_PATH", "PYTHONPATH")
        if (value := os.environ.get(name))
    ]
    return " ".join([*passed, sys.executable, arguments])


def python_read_paths() -> tuple[str, ...]:
    """What ``sandboxed_python`` needs to read (``[fs] read_paths``): the interpreter's prefix,
    which may lie in the hidden home (pyenv), the virtualenv, which may lie in the hidden /tmp
    (a checkout there), and the PYTHONPATH it is given."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    return tuple(dict.fromkeys([sys.base_prefix, sys.prefix, *filter(None, paths)]))


def decision_for(run: Staged, verdict: Verdict) -> Decision:
    assert run.action.digest is not None
    return Decision(by="test", verdict=verdict, reason="test", digest=run.action.digest)


@pytest.fixture
def bwrap() -> str:
    path = shutil.which("bwrap")
    require(path is not None, "bubblewrap is not installed")
    assert path is not None
    return path


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """The directory a test's project and the directory beside it are made in (a module may
    override it, e.g. with one on a filesystem its backend needs)."""
    return tmp_path


@pytest.fixture
def project(place: Path) -> Path:
    """A small project: text files, a subdirectory, an executable, a symlink inside."""
    root = place / "project"
    (root / "src").mkdir(parents=True)
    (root / "README.md").write_text("# demo\n")
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "src" / "old.txt").write_text("obsolete\n")
    run_sh = root / "run.sh"
    run_sh.write_text("#!/bin/sh\necho run\n")
    run_sh.chmod(0o755)
    (root / "link-to-readme").symlink_to("README.md")
    return root


@pytest.fixture
def outside(place: Path) -> Path:
    """A directory next to the project that no action may touch."""
    path = place / "outside"
    path.mkdir()
    (path / "precious.txt").write_text("do not touch\n")
    return path


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal" / "journal.sqlite3") as j:
        yield j


@pytest.fixture
def fs_config(tmp_path: Path) -> Config:
    return load_config(tmp_path)


Runner = Callable[..., Staged]


@pytest.fixture
def run_cmd(project: Path, journal: Journal, fs_config: Config, bwrap: str) -> Iterator[Runner]:
    """Stage the project and run a command in bubblewrap; rolls back whatever is left staged."""
    runs: list[Staged] = []

    def run(command: str, **kwargs: Any) -> Staged:
        kwargs.setdefault("config", fs_config)
        kwargs.setdefault("secrets", SecretStore.load())
        result = stage(project, command, journal=journal, bwrap=bwrap, **kwargs)
        runs.append(result)
        return result

    yield run
    for each in runs:
        if each.action.status.value == "staged":
            each.carry_out(decision_for(each, Verdict.ROLLBACK))


@pytest.fixture(scope="session")
def btrfs_mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real btrfs filesystem: a sparse image file, loop-mounted for the session, then
    unmounted (the loop device goes with it) and deleted — or ``GOEX_TEST_BTRFS``, a directory
    on btrfs that root made for a user who cannot mount (tests/goexfs/test_ordinary_user)."""
    if given := os.environ.get("GOEX_TEST_BTRFS"):
        yield Path(given)
        return
    require(os.geteuid() == 0, "mounting a btrfs image needs root")
    require(shutil.which("mkfs.btrfs") is not None, "btrfs-progs (mkfs.btrfs) is not installed")
    require(shutil.which("mount") is not None, "mount is not installed")
    base = tmp_path_factory.mktemp("btrfs")
    image, mount = base / "volume.img", base / "mnt"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(1 << 30)
    made = subprocess.run(["mkfs.btrfs", "-q", str(image)], capture_output=True, text=True)
    require(made.returncode == 0, f"mkfs.btrfs failed: {made.stderr.strip()}")
    mounted = subprocess.run(
        ["mount", "-o", "loop", str(image), str(mount)], capture_output=True, text=True
    )
    require(mounted.returncode == 0, f"cannot loop-mount a btrfs image: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        image.unlink()
