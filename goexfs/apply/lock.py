"""One writer at a time: an exclusive lock on ``<root>/.goex/lock`` around every step that
changes the project or goex's state in it — finishing a run, committing or rolling back a kept
action, undo, recover, gc — and around the check for interrupted commits. It is taken by those
library functions; taken again by the same thread (gc rolling back a kept action) it is
already held — ``flock`` on a second descriptor would wait for itself — while another thread
waits for it like another process does.

``flock`` is released by the kernel when its holder dies, so a crashed commit never leaves the
project locked — ``recover`` takes the lock next. Two ``goex-fs commit`` of the same action run
one after the other; the second finds the action no longer kept and stops before writing.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import PathError
from goexfs.tree.paths import INTERNAL_DIR

LOCK_FILE = "lock"
_held = threading.local()  # per thread: {(st_dev, st_ino) of a lock file: how deeply held}


@contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """Hold the project's lock (waiting for it) for the length of the block."""
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
    held: dict[tuple[int, int], int] = _held.__dict__.setdefault("files", {})
    info = os.fstat(fd)
    key = (info.st_dev, info.st_ino)  # the same file whatever path reached it
    try:
        if key not in held:
            fcntl.flock(fd, fcntl.LOCK_EX)
        held[key] = held.get(key, 0) + 1
        try:
            yield
        finally:
            held[key] -= 1
            if not held[key]:
                del held[key]
    finally:
        os.close(fd)  # the outermost close releases the lock
