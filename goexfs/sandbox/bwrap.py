"""Run the agent's shell command against the staged tree, confined by bubblewrap.

Inside the sandbox (``[fs] sandbox = "bwrap"``, the default):

* the staged tree is bound read-write **at the real project's absolute path**, so paths in the
  command work — and the real project is not reachable at all: its path *is* the staged copy;
* everything else is read-only (``--ro-bind / /``), with a fresh ``/tmp``, ``/dev`` and
  ``/proc``; the user's home directory and goex's config and state directories are hidden
  behind empty tmpfs mounts (they hold keys and the secrets file);
* every namespace is unshared (no network, no view of other processes), all capabilities are
  dropped (even when goex runs as root), ``--new-session`` stops terminal injection and
  ``--die-with-parent`` takes the sandbox down with goex;
* the environment is cleared down to PATH, HOME, LANG and TERM plus the configured secrets
  (``GOEX_SECRET_*``), passed through the environment and never on a command line;
* ``/run`` (and a real ``/var/run``) is an empty tmpfs: the host's unix sockets (docker,
  dbus, the ssh agent, database servers) live there, and a socket on a read-only mount can
  still be connected to;
* secret-looking files of the project (``.env``, keys, ... — ``goexfs.tree.paths.SECRET_GLOBS``)
  cannot be read: ``/dev/null`` is bound read-only over each (a device on a ``nodev`` mount:
  opening it is denied), so the command's output, which goes back to the agent, cannot carry
  their values; nor can they be changed or removed;
* a file-size limit and a process cap (``goexfs.sandbox.limits``) bound what the command consumes.

Output is captured (bounded) and passed through the ``Redactor``. A command that outlives the
timeout is killed with its whole process group and raises ``SandboxError``.

``[fs] sandbox = "none"`` runs ``sh -c`` with the staged tree as working directory and **no
confinement**: a command that uses an absolute path, or ``cd ..``, reaches the real project and
the rest of the machine. It exists only for machines where bubblewrap cannot be installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.config import Sandbox, user_config_file
from core.errors import ConfigError, SandboxError
from core.journal import state_home
from core.redact import Redactor
from core.secrets import SecretStore
from goexfs.sandbox.allow import AllowedHost
from goexfs.sandbox.capture import Capture, kill_group, let_start, read_status
from goexfs.sandbox.limits import limited_command, process_cap
from goexfs.sandbox.network import Proxy
from goexfs.sandbox.toolchains import readable_paths
from goexfs.tree.paths import contains, normalize

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_OUTPUT = 64 * 1024  # bytes kept per stream
FRESH = (Path("/tmp"), Path("/dev"), Path("/proc"))
SOCKET_DIRS = (Path("/run"), Path("/var/run"))  # emptied: host sockets live there
SETUP_ATTEMPTS = 5  # bubblewrap set-ups tried while other mounts come and go
_MOUNT_GONE = re.compile(  # the read-only copy of / met a mount that another process took away
    r"Can't bind mount /oldroot/ on /newroot/: Unable to apply mount flags: remount "
    r'"[^"]*": (?:No such file or directory|Invalid argument)'
)


@dataclass(frozen=True)
class SandboxResult:
    """What the command did, as far as its process goes (its file changes are measured apart)."""

    exit_status: int
    stdout: str
    stderr: str
    truncated: bool
    sandbox: str
    network: list[dict[str, Any]] = field(default_factory=list)  # hosts asked for (the proxy)

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_status": self.exit_status,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "truncated": self.truncated,
            "sandbox": self.sandbox,
            "network": self.network,
        }

    @classmethod
    def journaled(cls, effects: Mapping[str, Any]) -> SandboxResult:
        """The result as a file action's journaled effects keep it."""
        output = effects.get("output") or {}
        return cls(
            exit_status=int(effects.get("exit_status", 0)),
            stdout=str(output.get("stdout", "")),
            stderr=str(output.get("stderr", "")),
            truncated=bool(output.get("truncated", False)),
            sandbox=str(effects.get("sandbox", "")),
            network=list(effects.get("network") or []),
        )


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


def safe_environment(
    secrets: SecretStore, home: str, readable: Sequence[Path] = ()
) -> dict[str, str]:
    env = {
        "PATH": command_path(os.environ.get("PATH") or DEFAULT_PATH, readable),
        "HOME": home,
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "TERM": os.environ.get("TERM") or "dumb",
    }
    env.update(secrets.environment())
    return env


def command_path(path: str, readable: Sequence[Path] = ()) -> str:
    """PATH without relative entries or entries in the (hidden) home directories: those name
    the user's home to the command and lead nowhere inside the sandbox; unless they are in a
    path it may read (``readable``)."""
    homes = (Path.home(), Path("/root"))
    kept = [
        entry
        for entry in path.split(os.pathsep)
        if os.path.isabs(entry)
        and (
            not any(contains(home, Path(entry)) for home in homes)
            or any(contains(r, Path(entry)) for r in readable)
        )
    ]
    return os.pathsep.join(kept) or DEFAULT_PATH


HOST_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-")


def hidden_paths(root: Path) -> list[Path]:
    """Directories to hide behind an empty tmpfs: home (the user's and root's), goex config
    and state."""
    candidates = [Path.home(), Path("/root"), user_config_file().parent, state_home()]
    hidden: list[Path] = []
    for path in sorted({Path(os.path.abspath(p)) for p in candidates}, key=lambda p: len(p.parts)):
        if path == Path("/") or not path.is_dir() or contains(root, path):
            continue  # inside the project: the staged tree covers it already
        if any(contains(done, path) for done in (*FRESH, *hidden)):
            continue
        hidden.append(path)
    return hidden


def bwrap_argv(
    bwrap: str,
    *,
    root: Path,
    tree: Path,
    command: str,
    hidden_files: Sequence[str] = (),
    network: bool = False,
    readable: Sequence[Path] = (),
) -> list[str]:
    """The bubblewrap command line (see the module docstring). Order matters: later mounts
    go on top of earlier ones; the staged tree goes over the real root's path, and only the
    secret files it holds (``hidden_files``, relative paths) go on top of it. ``network``
    keeps the host's network namespace (``--share-net``); every other namespace stays private."""
    argv = [
        bwrap,
        "--die-with-parent",
        "--new-session",
        "--unshare-all",
        *(["--share-net"] if network else []),
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    for path in hidden_paths(root):
        argv += ["--tmpfs", str(path)]
    for path in SOCKET_DIRS:
        if path.is_dir() and not path.is_symlink() and not contains(path, root):
            argv += ["--tmpfs", str(path)]
    for path in readable:  # toolchains, over the tmpfs that hid them
        argv += ["--ro-bind", str(path), str(path)]
    for secret in HOST_SECRETS:  # readable to root, capabilities or not
        if os.path.isfile(secret) and not contains(root, Path(secret)):
            argv += ["--ro-bind", "/dev/null", secret]
    argv += ["--bind", str(tree), str(root)]
    for rel in hidden_files:
        argv += ["--ro-bind", "/dev/null", str(root / normalize(rel))]
    argv += ["--chdir", str(root)]
    return [*argv, "--", *limited_command(command)]


def run_command(
    command: str,
    *,
    root: Path,
    tree: Path,
    mode: Sandbox | str,
    timeout: float,
    secrets: SecretStore,
    redactor: Redactor,
    bwrap: str | None = None,
    max_output: int = MAX_OUTPUT,
    hidden_files: Sequence[str] = (),
    network: bool = False,
    allow_hosts: Sequence[str] = (),
    read_paths: Sequence[str] = (),
    enter: Sequence[str] = (),
) -> SandboxResult:
    """Run ``sh -c command`` against the staged tree; the real root is never the target.
    ``hidden_files`` (relative paths of regular files in the tree) cannot be read; ``enter``
    prefixes bubblewrap to start it where the tree is mounted (a staging's ``enter``). Without
    ``network`` the command reaches ``allow_hosts`` only, through goex's proxy
    (``goexfs.sandbox.network``), which records every host it asked for."""
    try:
        mode = Sandbox(mode)
    except ValueError:
        names = ", ".join(m.value for m in Sandbox)
        raise ConfigError(f"fs sandbox {mode!r} is not one of {names}", key="fs.sandbox") from None
    if mode is Sandbox.NONE:
        if allow_hosts:
            raise ConfigError(
                "--allow-host needs the sandbox: an unsandboxed command has the whole network",
                key="fs.allow_hosts",
            )
        with tempfile.TemporaryDirectory(prefix="goex-home-") as home:
            env = safe_environment(secrets, home)
            argv = [*enter, "/bin/sh", "-c", command]  # enter starts it in the tree (--wd)
            return _run(argv, tree, env, timeout, redactor, max_output)
    bwrap = bwrap or find_bwrap()
    if bwrap is None:
        raise SandboxError(
            "bubblewrap (bwrap) is not installed: install it (apt install bubblewrap) to run "
            "commands confined, or pass --unsandboxed to run them unconfined (unsafe)"
        )
    readable = readable_paths(read_paths, root)
    argv = bwrap_argv(
        bwrap,
        root=root,
        tree=tree,
        command=command,
        hidden_files=hidden_files,
        network=network,
        readable=readable,
    )
    # HOME: the real one where it is an empty tmpfs holding a read path (a toolchain there
    # finds itself); else /tmp, which names nothing of the host
    real_home = Path.home()
    toolchains = real_home in hidden_paths(root) and any(contains(real_home, p) for p in readable)
    home_inside = real_home if toolchains else Path("/tmp")
    env = safe_environment(secrets, str(home_inside), readable)
    allowed = [AllowedHost.parse(text) for text in allow_hosts]  # a bad one: nothing runs
    for attempt in range(1, SETUP_ATTEMPTS + 1):
        proxy = None if network else Proxy(allowed)
        try:
            with process_cap() as prefix:
                result = _run(
                    argv,
                    Path("/"),
                    env | ({} if proxy is None else proxy.environment()),
                    timeout,
                    redactor,
                    max_output,
                    status=True,
                    prefix=[*prefix, *enter],
                    started=None if proxy is None else proxy.attach,
                )
            return result if proxy is None else replace(result, network=proxy.report())
        except MountRaced:
            if attempt == SETUP_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
        finally:
            if proxy is not None:
                proxy.close()
    raise AssertionError("unreachable")


class MountRaced(SandboxError):
    """bubblewrap's read-only bind of / failed because a mount it was copying went away (another
    goex unmounting its staged overlay): the command never started, so it is run again."""


def _run(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    redactor: Redactor,
    max_output: int,
    *,
    status: bool = False,
    prefix: Sequence[str] = (),
    started: Callable[[int], None] | None = None,
) -> SandboxResult:
    """Run argv (bubblewrap's, with ``status``); ``started`` is called with the sandbox's
    process id once bubblewrap has set the sandbox up, before the command starts."""
    read_fd, write_fd = os.pipe() if status else (-1, -1)
    info_read, info_write = os.pipe() if started else (-1, -1)
    block_read, block_write = os.pipe() if started else (-1, -1)
    if status:
        argv = [argv[0], "--json-status-fd", str(write_fd), *argv[1:]]
    if started:
        argv = [argv[0], "--info-fd", str(info_write), "--block-fd", str(block_read), *argv[1:]]
    argv = [*prefix, *argv]
    theirs = [fd for fd in (write_fd, info_write, block_read) if fd >= 0]
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=tuple(theirs),
        )
    except OSError as exc:
        for fd in (read_fd, info_read, block_write):
            if fd >= 0:
                os.close(fd)
        raise SandboxError(f"cannot start {argv[len(prefix)]}: {exc.strerror}") from exc
    finally:
        for fd in theirs:
            os.close(fd)
    failure: SandboxError | None = None
    if started:
        try:
            let_start(info_read, block_write, started, lambda: kill_group(proc.pid))
        except SandboxError as exc:
            failure = exc  # said below, unless bubblewrap's own error explains it
        except BaseException:
            proc.communicate()
            if status:
                os.close(read_fd)
            raise
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Capture(proc.stdout, max_output), Capture(proc.stderr, max_output)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.wait()
        raise SandboxError(
            f"the command did not finish within {timeout:g}s and was killed; nothing was committed"
        ) from None
    finally:
        kill_group(proc.pid)  # stragglers left in the background
        out.join(5)
        err.join(5)
        proc.stdout.close()
        proc.stderr.close()
        statuses = read_status(read_fd) if status else []
    code = proc.returncode
    if status and not any("exit-code" in s for s in statuses):
        detail = err.text().strip().splitlines()
        if failure is not None and not detail:
            raise failure
        failed = MountRaced if _MOUNT_GONE.search(err.text()) else SandboxError
        raise failed(
            "bubblewrap could not set up the sandbox"
            + (f": {redactor.redact(detail[-1])}" if detail else f" (exit status {code})")
        )
    return SandboxResult(
        exit_status=128 - code if code < 0 else code,
        stdout=redactor.redact(out.text()),
        stderr=redactor.redact(err.text()),
        truncated=out.dropped > 0 or err.dropped > 0,
        sandbox="bwrap" if status else "none",
    )
