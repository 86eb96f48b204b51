"""A watchdog recorder of the paths a run touched in a staged tree, so a diff costs O(changes).

The sandboxed command runs in its own mount namespace, but it writes the very inodes of the
staged tree, and inotify watches inodes: the recorder, started on the staged tree before the
run, sees every write, create, delete, move and chmod the command makes (the contract suite
proves it, and proves the diff found through it).

The recorded paths are only *candidates*: each is measured against the before side by the
staging (``TreeStaging``), so an event can never invent a change. What the recorder can do is
miss one, and so it answers ``None`` — "compare everything" — whenever it may have: an inotify
queue overflow (watchdog logs it; a logging filter catches it), an observer that failed or died,
or a tree too large to watch.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.utils import BaseThread

from core.errors import PathError
from goexfs.tree.paths import relative_to

OVERFLOW_LOGGER = "watchdog.observers.inotify_c"

# watchdog warns when a directory created during the run is watched twice (its own scan of the
# new directory racing the creation event); the watch is simply replaced, nothing is missed.
warnings.filterwarnings(
    "ignore", message="Callback with id .* already exists", category=RuntimeWarning
)
SETTLE_TIMEOUT = 10.0


def _emitter_failures(previous: Any) -> Any:
    """A thread excepthook: a watchdog thread that dies (its recursive scan of 1,000 nested
    directories exhausts the stack) is a recorder in doubt, not a traceback on the user's
    terminal; the recorder sees that it stopped watching and compares everything instead."""

    def hook(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.thread, BaseThread):  # watchdog's emitters and inotify readers
            previous(args)

    return hook


threading.excepthook = _emitter_failures(threading.excepthook)
READ_ONLY_EVENTS = frozenset({"opened", "closed_no_write"})
# A directory created, deleted or moved as a whole: anything below it may differ too.
WHOLE_EVENTS = frozenset({"created", "deleted", "moved"})


@dataclass(frozen=True)
class Candidates:
    """Where to look for changes: ``paths`` may have changed themselves; under ``subtrees``
    anything may have (a directory created, deleted, moved or replaced as a whole)."""

    paths: frozenset[str]
    subtrees: frozenset[str]

    def to_json(self) -> dict[str, list[str]]:
        return {"paths": sorted(self.paths), "subtrees": sorted(self.subtrees)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidates:
        return cls(frozenset(data["paths"]), frozenset(data["subtrees"]))


class _OverflowFilter(logging.Filter):
    """Notices watchdog's "Inotify queue overflowed" warning (it has no callback for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.overflowed = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "overflow" in record.getMessage().lower():
            self.overflowed = True
        return True


@dataclass(eq=False)
class Recorder(FileSystemEventHandler):
    """Records the relative paths of every event under ``tree``; see the module docstring."""

    tree: Path
    paths: set[str] = field(default_factory=set)
    subtrees: set[str] = field(default_factory=set)
    doubt: str | None = None
    _sentinel: str = field(default_factory=lambda: f".goex-settle-{secrets.token_hex(6)}")
    _settled: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        super().__init__()
        self._filter = _OverflowFilter()
        self._observer = Observer()

    def start(self) -> Recorder:
        logging.getLogger(OVERFLOW_LOGGER).addFilter(self._filter)
        try:
            self._observer.schedule(self, str(self.tree), recursive=True)
            self._observer.start()
        except OSError as exc:  # e.g. fs.inotify.max_user_watches reached
            self.doubt = f"cannot watch the staged tree ({exc.strerror})"
        return self

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in READ_ONLY_EVENTS:
            return
        whole = event.event_type in WHOLE_EVENTS
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw)
            if not path:
                continue
            if os.path.basename(path) == self._sentinel:
                if event.event_type == "deleted":
                    self._settled.set()
                continue
            try:
                rel = relative_to(self.tree, Path(path))
            except PathError:  # not under the tree: nothing to trust about this run's events
                self.doubt = f"an event for an unexpected path {path!r}"
                continue
            if rel:
                with self._lock:
                    (self.subtrees if whole else self.paths).add(rel)

    def stop(self) -> Candidates | None:
        """Stop watching; the touched paths, or None when some event may have been missed."""
        if self.doubt is None and self._observer.is_alive():
            self._settle()
        if self.doubt is None and not self._watching():
            self.doubt = "the watcher failed"
        try:
            self._observer.stop()
            self._observer.join(SETTLE_TIMEOUT)
        except RuntimeError:  # never started
            pass
        logging.getLogger(OVERFLOW_LOGGER).removeFilter(self._filter)
        if self._filter.overflowed:
            self.doubt = "the inotify event queue overflowed"
        if self.doubt is not None:
            return None
        return Candidates(frozenset(self.paths), frozenset(self.subtrees))

    def _watching(self) -> bool:
        emitters = list(self._observer.emitters)
        readers = [getattr(getattr(e, "_inotify", None), "_inotify_fd", None) for e in emitters]
        return (
            self._observer.is_alive()
            and all(e.is_alive() for e in emitters)
            and all(r.is_alive() for r in readers if isinstance(r, BaseThread))
        )

    def _settle(self) -> None:
        """Wait until every event queued before now was handled: inotify keeps order, so once
        the deletion of a fresh sentinel file is seen, everything before it was too."""
        sentinel = self.tree / self._sentinel
        try:
            sentinel.touch()
            sentinel.unlink()
        except OSError as exc:
            self.doubt = f"cannot write the settle marker ({exc.strerror})"
            return
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while not self._settled.wait(0.05):
            if time.monotonic() > deadline or not self._watching():
                self.doubt = "the watcher did not catch up"
                return
