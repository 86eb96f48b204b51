"""One writer at a time: an exclusive lock on ``<root>/.goex/lock`` around every step that
changes the project or goex's state in it — finishing a run, committing or rolling back a kept
action, undo, recover, gc — and around the check for interrupted commits. It is taken by those
library functions; taken again in the same process (gc rolling back a kept action) it is
already held, since ``flock`` on a second descriptor would wait for itself.

``flock`` is released by the kernel when its holder dies, so a crashed commit never leaves the
project locked — ``recover`` takes the lock next. Two ``goex-fs commit`` of the same action run
one after the other; the second finds the action no longer kept and stops before writing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import PathError
from goexfs.tree.paths import INTERNAL_DIR

LOCK_FILE = "lock"
_held: dict[Path, int] = {}  # roots this process holds the lock of, and how deeply


@contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """Hold the project's lock (waiting for it) for the length of the block."""
    if root in _held:
        _held[root] += 1
        try:
            yield
        finally:
            _held[root] -= 1
        return
    internal = root / INTERNAL_DIR
    try:
        internal.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(
            internal / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
    except OSError as exc:
        raise PathError(
            f"cannot open the lock {internal / LOCK_FILE}: {exc.strerror}", path=str(internal)
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held[root] = 1
        yield
    finally:
        _held.pop(root, None)
        os.close(fd)  # releases the lock
