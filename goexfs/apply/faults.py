"""A test hook: kill this process at a named step, to prove that ``recover`` works.

``GOEX_FAULT_KILL_AT=<step>[:<n>]`` makes the n-th (default: first) call of
``fault_point(step)`` send SIGKILL to the process itself — no ``finally``, no ``atexit``, no
flushed buffers, exactly like a power cut as far as the journal and the directory can tell. It
exists only for the crash and interrupt tests (``tests/goexfs/test_crash.py``,
``test_interrupts.py``); ``GOEX_FAULT_SIGNAL=INT`` (or ``TERM``) sends that signal instead, as
a person's Ctrl-C or a service manager's stop would at that moment. Without the variables,
``fault_point`` does nothing but count.

Steps, in the order a commit passes them (``goexfs.apply.commit``):

``commit.checked``   conflicts checked, nothing written yet
``commit.preimages`` pre-images saved, intent not yet journaled
``commit.intent``    apply intent journaled, nothing applied
``apply``            before each single filesystem operation of the apply (removal, write,
                     symlink, mkdir, chmod) — ``apply:7`` dies before the seventh
``commit.applied``   everything applied, intent not yet finished
``commit.finished``  intent finished, staged copy not yet discarded

and for an undo (``goexfs.apply.undo``): ``undo.checked``, ``undo.intent``, ``apply``,
``undo.applied``.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "GOEX_FAULT_KILL_AT"
SIGNAL_ENV = "GOEX_FAULT_SIGNAL"

_hits: Counter[str] = Counter()


def fault_point(step: str) -> None:
    """Count a pass through step; die here if ``GOEX_FAULT_KILL_AT`` names this pass."""
    _hits[step] += 1
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name == step and _hits[step] == (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.Signals["SIG" + os.environ.get(SIGNAL_ENV, "KILL")])


def hits(step: str) -> int:
    """How many times step was passed in this process (the crash tests size their loops)."""
    return _hits[step]
