"""goex-db as a real process on a pseudo-terminal: it stages, shows the effects and waits at
"Apply these effects?" holding its transaction, which is where a kill or a restart hurts most."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from dataclasses import dataclass, field

PROMPT = b"Apply these effects?"


@dataclass
class Terminal:
    pid: int
    fd: int
    seen: bytes = field(default=b"")

    def read_until(self, marker: bytes, timeout: float = 60) -> bytes:
        """Read until marker (or end of output); fail with what was seen after timeout."""
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, (
                f"waited {timeout}s for {marker!r}: {self.seen.decode(errors='replace')}"
            )
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                break
            self.seen += chunk
        return self.seen

    def answer(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def kill(self) -> int:
        os.kill(self.pid, signal.SIGKILL)
        return self.wait()

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"goex-db did not exit within {timeout}s")


def goex_db_on_terminal(*args: str) -> Terminal:
    pid, fd = pty.fork()
    if pid == 0:  # the child: goex-db on the terminal
        try:
            os.execv(sys.executable, [sys.executable, "-m", "goexdb.cli", *args])
        finally:
            os._exit(127)
    return Terminal(pid, fd)
