"""Resource limits for the sandboxed command: file size and number of processes.

Bubblewrap confines what a command can *reach*; these bound what it can *consume*:

* ``MAX_FILE_BYTES`` — ``RLIMIT_FSIZE``, set (soft and hard, so the command cannot raise it
  again without the capabilities it no longer has) by a tiny ``sh`` prologue inside the sandbox:
  a write past it fails with EFBIG, so one runaway file cannot fill the disk or stall measuring;
* ``MAX_PROCESSES`` — a ``pids`` cgroup around bubblewrap (``pids.max``), which holds a fork
  bomb to a few hundred processes. ``RLIMIT_NPROC`` cannot do this: the kernel never applies it
  to root, and it counts every process of the user, not the command's. Where no writable
  ``pids`` cgroup exists (an unprivileged user without delegation) the command runs without
  a process cap; the timeout still ends it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import time
from collections.abc import Iterator
from pathlib import Path

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PROCESSES = 256
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


def limited_command(command: str, max_file_bytes: int = MAX_FILE_BYTES) -> list[str]:
    """``sh -c`` argv that lowers the file-size limit, then runs command in a fresh shell."""
    blocks = max(1, max_file_bytes // 512)  # ulimit -f counts 512-byte blocks
    prologue = f'ulimit -f {blocks} || exit 125; exec /bin/sh -c "$1"'
    return ["/bin/sh", "-c", prologue, "sh", command]


@contextlib.contextmanager
def process_cap(max_processes: int = MAX_PROCESSES) -> Iterator[list[str]]:
    """A prefix for the argv that starts bubblewrap inside a new ``pids`` cgroup (``[]`` when
    none can be made); the cgroup is removed on exit."""
    group = _new_group(max_processes)
    if group is None:
        yield []
        return
    procs = shlex.quote(str(group / "cgroup.procs"))
    try:
        yield ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh"]
    finally:
        _remove_group(group)


def _new_group(max_processes: int) -> Path | None:
    for base in CGROUP_ROOTS:
        if not (base / "cgroup.procs").exists() or not os.access(base, os.W_OK):
            continue
        if base.name != "pids":  # cgroup v2: the controller must be enabled for children
            try:
                enabled = (base / "cgroup.subtree_control").read_text().split()
            except OSError:
                continue
            if "pids" not in enabled:
                continue
        group = base / f"goex-{secrets.token_hex(6)}"
        try:
            group.mkdir()
        except OSError:
            continue
        try:
            (group / "pids.max").write_text(str(max_processes))
        except OSError:
            _remove_group(group)
            continue
        return group
    return None


def _remove_group(group: Path) -> None:
    """rmdir the cgroup once its last process is gone, killing any left (stopped ones too:
    a command can ptrace-stop its own sandbox); reaping can take a moment."""
    for _ in range(100):
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            for pid in _members(group):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)


def _members(group: Path) -> list[int]:
    try:
        return [int(line) for line in (group / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []
