"""Running goex-fs against an attacker's command, as a real process, and seeing what changed.

``run_case`` builds a fresh project and an "outside" directory next to it (under /var/tmp, so
the outside is visible — read-only — inside the sandbox, not hidden by its fresh /tmp), records
the state of everything an escape could reach, runs ``goex-fs run --cmd`` as a subprocess and
records the state again. ``goex_fs_argv`` is the one place that says how goex-fs is started, and
``BACKENDS`` the staging backends the corpus runs on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from goexfs.sandbox.limits import process_cap
from tests.adversarial.fs.corpus import Case, Places

SECRET = "zz9-plural-z-alpha-7781-goex"
WALL_TIMEOUT = 180  # seconds: a goex-fs that hangs fails the case instead of the suite
BASE = Path("/var/tmp")
HOST_PATHS = (Path("/etc"),)
ESCAPE_PREFIX = "goex-escape"  # names the corpus tries to create in /tmp and /var/tmp

Tree = dict[bytes, tuple[object, ...]]


def available(requirement: str) -> bool:
    """Whether this machine offers what a case ``requires``."""
    if requirement == "process-cap":
        with process_cap() as prefix:
            return bool(prefix)
    raise ValueError(requirement)


def goex_fs_argv(backend: str, *args: str | bytes) -> tuple[list[str | bytes], dict[str, str]]:
    """argv and extra environment that start goex-fs on one staging backend."""
    return [sys.executable, "-m", "goexfs.cli", *args], {"GOEX_FS_BACKEND": backend}


def clean_environment(places: Places) -> dict[str, str]:
    """goex's environment: the caller's, less any goex or model settings, with home, config and
    state inside the case's base directory (so a sentinel there can be checked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOEX_", "OPENAI_", "XDG_"))}
    env.update(
        HOME=str(places.home),
        XDG_CONFIG_HOME=str(places.home / ".config"),
        XDG_STATE_HOME=str(places.home / ".local" / "state"),
    )
    if "GOEX_REQUIRE_ALL" in os.environ:
        env["GOEX_REQUIRE_ALL"] = os.environ["GOEX_REQUIRE_ALL"]
    # The corpus is about containment: a command the sandbox stopped often exits non-zero, and
    # goex must still do what ``decide`` says, so that the commit path meets what the command
    # left. (That a failed command waits for a person is tested in tests/goexfs.)
    env["GOEX_POLICY_DISABLE"] = "fs.command-failed"
    return env


def tree_state(top: Path, *, skip_top: Sequence[str] = (), inodes: bool = False) -> Tree:
    """Every path under top (top included): type, mode, size, contents hash or link target,
    and the inode when asked (to see a file replaced). Fifos and sockets are never opened."""
    state: Tree = {}
    skipped = {name.encode() for name in skip_top}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(top)):
        if dirpath == os.fsencode(top):
            dirnames[:] = [d for d in dirnames if d not in skipped]
            filenames = [f for f in filenames if f not in skipped]
            info = os.lstat(dirpath)
            state[b"."] = ("dir", stat.S_IMODE(info.st_mode))
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.fsencode(top))
            info = os.lstat(path)
            mode = stat.S_IMODE(info.st_mode)
            extra: tuple[object, ...] = (info.st_ino,) if inodes else ()
            if stat.S_ISLNK(info.st_mode):
                state[rel] = ("symlink", os.readlink(path), *extra)
            elif stat.S_ISDIR(info.st_mode):
                state[rel] = ("dir", mode, *extra)
            elif stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(Path(os.fsdecode(path)).read_bytes()).hexdigest()
                state[rel] = ("file", mode, info.st_size, digest, info.st_mtime_ns, *extra)
            else:
                state[rel] = ("other", stat.S_IFMT(info.st_mode), mode, *extra)
    return state


def host_state() -> dict[str, object]:
    """What an escape could change on the machine: /etc (metadata), and the names the corpus
    tries to create in /tmp, /var/tmp and /dev/shm (other processes use those too)."""
    found: dict[str, object] = {}
    for top in HOST_PATHS:
        entries = []
        for dirpath, dirnames, filenames in os.walk(top):
            for name in sorted(dirnames + filenames):
                path = os.path.join(dirpath, name)
                with contextlib.suppress(OSError):
                    info = os.lstat(path)
                    entries.append((path, info.st_mode, info.st_size, info.st_mtime_ns))
        found[str(top)] = entries
    for top in (Path("/tmp"), BASE, Path("/dev/shm")):
        found[f"{top}/{ESCAPE_PREFIX}*"] = sorted(
            name for name in os.listdir(top) if name.startswith(ESCAPE_PREFIX)
        )
    return found


@dataclass
class Outcome:
    """One case run: goex's result and the state of everything before and after."""

    places: Places
    code: int = -1
    out: str = ""
    err: str = ""
    before: dict[str, object] = field(default_factory=dict)
    after: dict[str, object] = field(default_factory=dict)
    connected: list[str] = field(default_factory=list)  # planted sockets someone reached
    after_checks: list[tuple[bytes, bool]] = field(default_factory=list)
    cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def close(self) -> None:
        """Remove the case's directories (the caller is done looking at them)."""
        self.cleanup.close()


def _plant(case: Case, places: Places) -> None:
    for line in case.plant:
        kind, _, rest = places.expand(line).partition(b" ")
        rel, _, arg = rest.partition(b" ")
        path = os.path.join(os.fsencode(places.root), rel)
        if kind == b"file":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(os.fsdecode(path)).write_bytes(arg.replace(b"\\n", b"\n"))
        elif kind == b"dir":
            os.makedirs(path, exist_ok=True)
        elif kind == b"symlink":
            os.symlink(arg, path)
        elif kind == b"hardlink":
            os.link(os.path.join(os.fsencode(places.outside), arg), path)
        elif kind == b"mode":
            os.chmod(path, int(arg, 8))


def _project(places: Places) -> None:
    """The default project: code, a git hook, secret files holding SECRET."""
    root = places.root
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("# demo\n")
    (root / "src" / "app.py").write_text("print('hello')\n")
    run = root / "run.sh"
    run.write_text("#!/bin/sh\necho run\n")
    run.chmod(0o755)
    (root / ".env").write_text(f"API_TOKEN={places.secret}\n")
    (root / "id_rsa").write_text(f"{places.secret}\n")
    (root / "cert.pem").write_text(f"{places.secret}\n")
    hooks = root / ".git" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (root / ".git" / "config").write_text("[core]\n\tbare = false\n")


def _outside(places: Places) -> None:
    places.outside.mkdir()
    (places.outside / "sentinel.txt").write_text("outside: do not touch\n")
    (places.outside / "sub").mkdir()
    (places.outside / "sub" / "deep.txt").write_text("outside, deeper\n")
    places.home.mkdir()
    (places.home / "sentinel.txt").write_text("home: do not touch\n")


@contextlib.contextmanager
def case_places(case: Case) -> Iterator[Places]:
    """A fresh base directory holding project, outside and home; removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="goex-adv-", dir=BASE))
    places = Places(base / "project", base / "outside", base / "home", SECRET, secrets.token_hex(4))
    try:
        places.root.mkdir()
        if case.disk_mib is not None:
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={case.disk_mib}m", "goex-adv", places.root],
                check=True,
                capture_output=True,
            )
        _outside(places)
        _project(places)
        _plant(case, places)
        yield places
    finally:
        _unmount_under(base)  # the tmpfs, and any staged overlay a case left mounted
        _remove(base)


def _unmount_under(base: Path) -> None:
    """Detach every mount at or under base, deepest first: a mount left behind (its directory
    then removed) would make every later sandbox's ``--ro-bind / /`` fail to remount it."""
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        points = [line.split()[4].encode().decode("unicode_escape") for line in table]
    top = str(base)
    for point in sorted((p for p in points if p == top or p.startswith(top + "/")), key=len)[::-1]:
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def _remove(path: Path) -> None:
    """rm -rf: copes with any depth and any permissions a case left behind."""
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


@contextlib.contextmanager
def planted_sockets(case: Case, places: Places) -> Iterator[list[tuple[str, socket.socket]]]:
    """Listening unix sockets (``@name`` is abstract) the command must not reach."""
    listeners: list[tuple[str, socket.socket]] = []
    try:
        for line in case.sockets:
            name = places.expand(line).decode()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind("\0" + name[1:] if name.startswith("@") else name)
            sock.listen(8)
            sock.setblocking(False)
            listeners.append((name, sock))
        yield listeners
    finally:
        for name, sock in listeners:
            sock.close()
            if not name.startswith("@"):
                with contextlib.suppress(OSError):
                    os.unlink(name)


def reached(listeners: list[tuple[str, socket.socket]]) -> list[str]:
    found = []
    for name, sock in listeners:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            continue
        conn.close()
        found.append(name)
    return found


def state(places: Places) -> dict[str, object]:
    return {
        "project": tree_state(places.root, skip_top=(".goex",)),
        "outside": tree_state(places.outside, inodes=True),
        "home": tree_state(places.home, skip_top=(".config", ".local")),
        "host": host_state(),
    }


def run_case(case: Case, backend: str) -> Outcome:
    """Run one case end to end (see the module docstring); ``close()`` the outcome when done."""
    cleanup = contextlib.ExitStack()
    places = cleanup.enter_context(case_places(case))
    outcome = Outcome(places, cleanup=cleanup)
    try:
        argv, extra = goex_fs_argv(
            backend,
            "run",
            "--dir",
            str(places.root),
            "--cmd",
            places.expand(case.body),
            "--decide",
            case.decide,
            "--format",
            "json",
            *(["--timeout", f"{case.timeout:g}"] if case.timeout is not None else []),
        )
        env = {**clean_environment(places), **extra}
        for line in case.env:
            name, _, value = places.expand(line).decode().partition("=")
            env[name] = f"{env[name]},{value}" if name == "GOEX_POLICY_DISABLE" else value
        with planted_sockets(case, places) as listeners:
            outcome.before = state(places)
            proc = subprocess.run(
                argv, env=env, capture_output=True, timeout=WALL_TIMEOUT, check=False
            )
            outcome.connected = reached(listeners)
        outcome.code = proc.returncode
        outcome.out = proc.stdout.decode("utf-8", errors="replace")
        outcome.err = proc.stderr.decode("utf-8", errors="replace")
        outcome.after = state(places)
        outcome.after_checks = [_after(line, places) for line in case.after]
    except BaseException:
        cleanup.close()
        raise
    return outcome


def _after(line: bytes, places: Places) -> tuple[bytes, bool]:
    """Whether one ``after`` line holds for the real directory."""
    rel, kind, arg = [*places.expand(line).split(b" ", 2), b""][:3]
    path = os.path.join(os.fsencode(places.root), rel)
    if kind == b"missing":
        return line, not os.path.lexists(path)
    if kind == b"symlink":
        return line, os.path.islink(path) and os.readlink(path) == arg
    return line, (
        os.path.isfile(path)
        and not os.path.islink(path)
        and Path(os.fsdecode(path)).read_bytes() == arg.replace(b"\\n", b"\n")
    )
