"""What a sandboxed command leaves behind as a process: its output, read to the end but kept
bounded (``Capture``), bubblewrap's JSON status documents (``read_status``), and its process
group, killed with everything left in it (``kill_group``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from typing import IO


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
