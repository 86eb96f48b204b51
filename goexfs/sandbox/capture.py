"""A sandboxed command as a process: its output, read to the end but kept bounded
(``Capture``), bubblewrap's JSON status documents (``read_status``) and its information on the
sandbox before the command starts (``let_start``), and its process group, killed with
everything left in it (``kill_group``)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import threading
from collections.abc import Callable
from typing import IO

SETUP_TIMEOUT = 60.0  # seconds bubblewrap may take to set the sandbox up


class Capture(threading.Thread):
    """Reads a stream to its end, keeping the first ``limit`` bytes."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self._limit = limit
        self._kept = bytearray()
        self.dropped = 0
        self.start()

    def run(self) -> None:
        try:
            while chunk := os.read(self._stream.fileno(), 65536):
                room = self._limit - len(self._kept)
                self._kept += chunk[:room]
                self.dropped += max(0, len(chunk) - room)
        except (OSError, ValueError):
            pass

    def text(self) -> str:
        text = bytes(self._kept).decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output not kept]\n"
        return text


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def read_status(fd: int) -> list[str]:
    """The JSON documents bubblewrap wrote to its status pipe (read without blocking)."""
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 65536):
            data += chunk
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    docs: list[str] = []
    decoder = json.JSONDecoder()
    text = data.decode("utf-8", errors="replace")
    index = 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        try:
            obj, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            break
        docs.append(json.dumps(obj))
    return docs


def let_start(
    info_fd: int, block_fd: int, started: Callable[[int], None], stop: Callable[[], None]
) -> None:
    """Read the sandbox's process id from bubblewrap's ``--info-fd``, hand it to ``started``,
    then let the command start (a byte on ``--block-fd``); both descriptors are closed. When
    bubblewrap fails before it says, ``started`` is not called (its error comes from the
    status pipe). When ``started`` raises, ``stop`` kills bubblewrap first: closing the block
    descriptor alone would let the command run without what ``started`` was to set up."""
    data, ready_to_go = b"", False
    try:
        while True:
            ready, _, _ = select.select([info_fd], [], [], SETUP_TIMEOUT)
            chunk = os.read(info_fd, 65536) if ready else b""
            data += chunk
            try:
                info = json.loads(data)
                break
            except ValueError:
                if not chunk:
                    return  # bubblewrap exited (or hung) before the sandbox was set up
        started(int(info["child-pid"]))
        ready_to_go = True
        with contextlib.suppress(OSError):  # bubblewrap is gone already
            os.write(block_fd, b"x")
    finally:
        if not ready_to_go:
            stop()
        os.close(info_fd)
        os.close(block_fd)
