"""The sandbox's only way out: an HTTP/HTTPS proxy that goex runs, letting through only the hosts
the operator allowed (``--allow-host HOST[:PORT]``, ``[fs] allow_hosts``) and recording every
host the command asked for.

The sandbox keeps no network of its own (a private network namespace with loopback only). Its
proxy port, ``127.0.0.1:3128`` there, is a listening socket that goex creates *inside* the
sandbox's network namespace (``goexfs.sandbox.netns``, before the command starts) and serves
from outside: a connection made in the sandbox arrives at goex, which reads the request —
``CONNECT host:port`` (HTTPS and any tunnel) or an absolute-form ``GET http://host/...`` —
and either connects to that host from the host's network and relays the bytes, or answers
``403`` with a line naming the host and the flag that would allow it. ``HTTP_PROXY`` and
``HTTPS_PROXY`` (both spellings) point there, which pip, curl, npm, git and most HTTP libraries
follow; the sandbox's own loopback stays direct (``NO_PROXY``).

What is allowed, and how a host is named, is ``goexfs.sandbox.allow``'s: the host the request
names, matched exactly (case aside). Names are resolved by goex, outside the sandbox. At most
``MAX_CONNECTIONS`` connections are served at once and ``MAX_HOSTS`` hosts recorded.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.errors import SandboxError
from goexfs.sandbox.allow import PROXY_PORT, PROXY_URL, AllowedHost, allow_flag, is_host
from goexfs.sandbox.netns import listen_in

MAX_HEADER = 64 * 1024
CONNECT_TIMEOUT = 15.0
IDLE_TIMEOUT = 300.0  # seconds a connection may stay silent
MAX_CONNECTIONS = 64  # at once; more are closed as they come
HELPER = Path(__file__).with_name("netns.py")
MAX_HOSTS = 100  # distinct hosts recorded per command; the rest are counted together
_ABSOLUTE = re.compile(r"http://(\[[^\]]+\]|[^:/\s?#]+)(?::(\d{1,5}))?(/[^\s]*)?", re.I)


class Proxy:
    """Serves the sandbox's proxy port from this process (see the module docstring)."""

    def __init__(self, allowed: Sequence[AllowedHost]) -> None:
        self.allowed = list(allowed)
        self._seen: dict[tuple[str, int, bool], dict[str, Any]] = {}  # at most MAX_HOSTS
        self._unrecorded = 0  # connections to hosts past MAX_HOSTS
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._closing = False
        self._threads: set[threading.Thread] = set()  # running ones only
        self._open: set[socket.socket] = set()  # connections in flight, cut on close

    def environment(self) -> dict[str, str]:
        """The proxy variables; the sandbox's own loopback is reached directly (it is private
        to the sandbox), unless a loopback name is allowed, which then means the host's."""
        names = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
        allowed = {rule.host for rule in self.allowed}
        direct = ",".join(h for h in ("localhost", "127.0.0.1", "::1") if h not in allowed)
        return {name: PROXY_URL for name in names} | {"NO_PROXY": direct, "no_proxy": direct}

    def attach(self, sandbox_pid: int) -> None:
        """Listen on the proxy port inside the network namespace of the sandbox's process
        (``goexfs.sandbox.netns``) and start answering there; SandboxError if it cannot."""
        self._listener = _listener_as_root(sandbox_pid) if os.geteuid() == 0 else None
        if self._listener is None:
            self._listener = _listener_by_helper(sandbox_pid)
        self._spawn(self._accept)

    def close(self) -> None:
        """Stop serving: the listener and every connection still open are shut down; the
        threads get five seconds in all to end."""
        self._closing = True
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            cut, threads = list(self._open), list(self._threads)
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def report(self) -> list[dict[str, Any]]:
        """Every host asked for, once per host, port and verdict, with counts and bytes (the
        first MAX_HOSTS hosts; then one entry counting the connections to the others)."""
        with self._lock:
            entries = [dict(entry) for entry in self._seen.values()]
            if self._unrecorded:
                more = {"host": "(more hosts)", "port": 0, "allowed": False, "sent": 0}
                entries.append(more | {"connections": self._unrecorded, "received": 0})
        return entries

    def _record(self, host: str, port: int, allowed: bool) -> dict[str, Any] | None:
        """The entry a connection adds its bytes to (None past MAX_HOSTS)."""
        with self._lock:
            key = (host, port, allowed)
            entry = self._seen.get(key)
            if entry is None and len(self._seen) >= MAX_HOSTS:
                self._unrecorded += 1
                return None
            if entry is None:
                entry = self._seen[key] = {"host": host, "port": port, "allowed": allowed,
                                           "connections": 0, "sent": 0, "received": 0}  # fmt: skip
            entry["connections"] += 1
            return entry

    def _count(self, entry: dict[str, Any] | None, sent: int = 0, received: int = 0) -> None:
        if entry is not None:
            with self._lock:
                entry["sent"] += sent
                entry["received"] += received

    def _spawn(self, target: Any, *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(thread)

        thread = threading.Thread(target=run, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                if self._closing:
                    return
                time.sleep(0.05)  # out of descriptors, a connection aborted: go on
                continue
            with self._lock:
                full = len(self._open) >= MAX_CONNECTIONS
                if not full:
                    self._open.add(client)
            if full:  # a command opening connections by the thousand gets no thread each
                client.close()
                continue
            client.settimeout(IDLE_TIMEOUT)
            self._spawn(self._handle, client)

    def _handle(self, client: socket.socket) -> None:
        try:
            self._serve(client)
        except OSError:
            pass  # the command hung up, or the proxy is closing
        finally:
            with self._lock:
                self._open.discard(client)
            client.close()

    def _serve(self, client: socket.socket) -> None:
        head = _read_head(client)
        if head is None:
            return
        method, target, rest = head
        try:
            host, port, first = _destination(method, target, rest)
        except ValueError as exc:
            client.sendall(_answer(400, f"goex proxy: {exc}"))
            return
        allowed = any(rule.allows(host, port) for rule in self.allowed)
        entry = self._record(host, port, allowed)
        if not allowed:
            flag = allow_flag(host, port)
            client.sendall(
                _answer(403, f"goex: network is off; --allow-host {flag} would allow it")
            )
            return
        try:
            upstream = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            error = exc.strerror or type(exc).__name__
            if entry is not None:
                with self._lock:
                    entry.setdefault("error", error)
            client.sendall(_answer(502, f"goex proxy: cannot reach {host}:{port}: {error}"))
            return
        with upstream:
            upstream.settimeout(IDLE_TIMEOUT)
            with self._lock:
                self._open.add(upstream)
            try:
                if method == "CONNECT":
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                upstream.sendall(first)
                self._count(entry, sent=len(first))
                _relay(client, upstream, lambda up, down: self._count(entry, up, down))
            finally:
                with self._lock:
                    self._open.discard(upstream)


def _listener_as_root(pid: int) -> socket.socket | None:
    """The proxy port made by a thread of ours that joins the sandbox's network namespace
    (only that thread does); None when it cannot (then the helper process tries)."""
    made: list[socket.socket] = []

    def make() -> None:
        with contextlib.suppress(OSError):
            made.append(listen_in(pid, PROXY_PORT, join_user=False))

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    return made[0] if made else None


def _listener_by_helper(pid: int) -> socket.socket:
    """The proxy port made by a process of its own (``goexfs.sandbox.netns``), which may join
    the sandbox's user namespace, and handed back over a unix socket."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        helper = subprocess.run(
            [
                sys.executable,
                "-I",
                "-S",
                str(HELPER),
                str(pid),
                str(PROXY_PORT),
                str(theirs.fileno()),
            ],
            pass_fds=(theirs.fileno(),),
            capture_output=True,
            timeout=30,
            check=False,
        )
        ours.setblocking(False)
        try:
            message, fds, _, _ = socket.recv_fds(ours, 1024, 1)
        except BlockingIOError:
            message, fds = helper.stderr.strip()[-300:], []
    if not fds:
        why = message.decode(errors="replace").removeprefix("error: ") or "it exited"
        raise SandboxError(f"cannot give the sandbox its proxy port: {why}")
    return socket.socket(fileno=fds[0])


def _read_head(client: socket.socket) -> tuple[str, str, bytes] | None:
    """The request line's method and target, and the rest of the head and what came after."""
    data = bytearray()
    while data.find(b"\r\n\r\n", max(0, len(data) - 65539)) < 0:
        try:
            chunk = client.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_HEADER:
            client.sendall(_answer(431, "goex proxy: request header too large"))
            return None
    line, _, rest = bytes(data).partition(b"\r\n")
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        client.sendall(_answer(400, "goex proxy: malformed request line"))
        return None
    return parts[0].upper(), parts[1], rest


def _destination(method: str, target: str, rest: bytes) -> tuple[str, int, bytes]:
    """(host, port, bytes to send upstream first) of a proxy request: a CONNECT's early data,
    or an http:// request rewritten for the origin server (its Host header that of the
    target, one request per connection)."""
    if method == "CONNECT":
        match = re.fullmatch(r"(\[[^\]]+\]|[^:/\s]+):(\d{1,5})", target)
    else:
        match = re.fullmatch(
            r"http://(\[[^\]]+\]|[^:/\s?#]+)(?::(\d{1,5}))?(/[^\s]*)?", target, re.I
        )
    if not match:
        raise ValueError(
            "only CONNECT HOST:PORT and absolute http:// requests go through this proxy"
        )
    host = match.group(1).strip("[]").lower()
    port = int(match.group(2) or 80)
    if not is_host(host) or not 0 < port < 65536:
        raise ValueError("not a host name or address")
    headers, _, body = (b"\r\n" + rest).partition(b"\r\n\r\n")  # no headers: rest is "\r\n..."
    if method == "CONNECT":
        return host, port, body
    path = match.group(3) or "/"
    kept = [
        h
        for h in headers.split(b"\r\n")
        if h and not h.lower().startswith((b"proxy-", b"connection:", b"keep-alive:", b"host:"))
    ]
    named = f"Host: {allow_flag(host, port)}".encode()
    line = f"{method} {path} HTTP/1.1".encode("latin-1")
    return host, port, b"\r\n".join([line, named, *kept, b"Connection: close"]) + b"\r\n\r\n" + body


def _relay(
    client: socket.socket, upstream: socket.socket, counted: Callable[[int, int], None]
) -> None:
    """Copy bytes both ways until both sides are done, counting them (sent, received)."""
    peers = {client: upstream, upstream: client}
    by_fd = {sock.fileno(): sock for sock in peers}
    with selectors.DefaultSelector() as selector:
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        while selector.get_map():
            ready = selector.select(IDLE_TIMEOUT)
            if not ready:
                return  # idle five minutes
            for key, _ in ready:
                sock = by_fd[key.fd]
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(sock)
                    with contextlib.suppress(OSError):
                        peers[sock].shutdown(socket.SHUT_WR)
                    continue
                peers[sock].sendall(data)
                counted(*((len(data), 0) if sock is client else (0, len(data))))


def _answer(status: int, text: str) -> bytes:
    reason = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large",
              502: "Bad Gateway"}[status]  # fmt: skip
    body = (text + "\n").encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
