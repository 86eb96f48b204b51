"""Makes the sandbox's proxy port once bubblewrap has set the sandbox up and before the command
starts: for root in a thread of goex's (``listen_in``), for anyone else as a process of its own
(``python -I -S netns.py PID PORT FD``).

It joins the network namespace of the sandbox's process ``PID``, after the user namespace that
owns it (bubblewrap nests a second user namespace inside that one, which would not do; and a
user namespace may only be joined by a process with one thread: hence a process of its own,
not a thread of goex's), listens on ``127.0.0.1:PORT`` there, sends the listening socket back over
the unix socket ``FD`` and exits. The socket stays in the sandbox's namespace: goex serves it
from outside (``goexfs.sandbox.network``), and nothing of goex's runs in the sandbox.

Standard library only, and nothing of goex: it starts in a few milliseconds.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
NS_GET_USERNS = 0xB701  # ioctl: the user namespace that owns a namespace


def listen_in(pid: int, port: int, *, join_user: bool) -> socket.socket:
    """A socket listening on 127.0.0.1:port in the network namespace of process pid. Joining a
    network namespace changes the calling thread only; ``join_user`` first joins the user
    namespace that owns it, which only a process with one thread may do (root need not: its
    capabilities reach every user namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def join(fd: int, flag: int, what: str) -> None:
        try:
            if libc.setns(fd, flag) != 0:
                raise OSError(ctypes.get_errno(), f"cannot join the sandbox's {what} namespace")
        finally:
            os.close(fd)

    net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    if join_user:
        owner = fcntl.ioctl(net, NS_GET_USERNS)
        if os.fstat(owner).st_ino != os.stat("/proc/self/ns/user").st_ino:
            join(owner, CLONE_NEWUSER, "user")
        else:
            os.close(owner)  # already there
    join(net, CLONE_NEWNET, "network")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    return listener


def main(pid: str, port: str, channel_fd: str) -> None:
    channel = socket.socket(fileno=int(channel_fd))
    try:
        listener = listen_in(int(pid), int(port), join_user=True)
    except OSError as exc:
        channel.sendall(f"error: {exc.strerror or exc}".encode())
        sys.exit(1)
    socket.send_fds(channel, [b"ok"], [listener.fileno()])


if __name__ == "__main__":
    main(*sys.argv[1:4])
