"""goex as real processes for the tests that decide from elsewhere or send real signals."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAITING = re.compile(r"waiting for a person until \S+ (\S+) approve (\w+) --digest (\w+)")


@dataclass
class Running:
    """A goex process started in the background, with its stderr read as it comes."""

    proc: subprocess.Popen[str]
    err: str = field(default="")

    def read_err_until(self, pattern: re.Pattern[str] | str, timeout: float = 120) -> re.Match[str]:
        """Read stderr until ``pattern`` matches what was read; fail with it after timeout."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + timeout
        while not (found := regex.search(self.err)):
            left = deadline - time.monotonic()
            assert left > 0, f"waited {timeout}s for {regex.pattern!r}; stderr: {self.err}"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536).decode(errors="replace")
                assert chunk or self.proc.poll() is None, f"exited early; stderr: {self.err}"
                self.err += chunk
        return found

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        """Wait for the exit; (exit code, stdout, all of stderr)."""
        try:
            out, rest = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.err += rest
        return self.proc.returncode, out, self.err


def start(module: str, *args: str, cwd: Path | None = None) -> Running:
    """``python -m module args`` in the background (goexdb.cli, goexfs.cli)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    return Running(proc)


@dataclass
class Held:
    """A process holding an action until a person decides (``--decide person``)."""

    running: Running
    tool: str
    action_id: str
    digest: str


def start_held(module: str, *args: str, cwd: Path | None = None) -> Held:
    running = start(module, *args, "--decide", "person", cwd=cwd)
    found = running.read_err_until(WAITING)
    return Held(running, found.group(1), found.group(2), found.group(3))


def run(module: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def until(condition: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.05)


def shown(module: str, action_id: str, *args: str) -> dict[str, Any]:
    """``show ID --format json``: the journaled action with its effects."""
    done = run(module, "show", action_id, "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


SIGNALS = (signal.SIGINT, signal.SIGTERM)
