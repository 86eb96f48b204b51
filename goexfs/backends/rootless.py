"""Holds a rootless overlay mount: run as its own process (``python -I -S rootless.py LOWER
UPPER WORK TREE``) by the overlay backend for a user who is not root.

It enters a new user namespace (the user's own uid and gid mapped to themselves, nothing else)
and a new mount namespace, mounts the overlay there (Linux 5.11+ lets a user namespace mount
overlayfs; ``userxattr`` keeps overlayfs's markers in ``user.overlay.*``), prints ``ready`` and
then holds the namespace until its standard input closes — when goex is done with the staging,
or dies. The merged view exists only inside that namespace: goex reads it through
``/proc/PID/root`` and starts the sandbox in it with ``nsenter``; every later process that needs
the view mounts it again over the same upper layer.

Standard library only, and nothing of goex: it starts in a few milliseconds.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
# As the overlay backend's OPTIONS, but redirect_dir=nofollow: userxattr refuses "off", which
# means "follow" on kernels built with redirect_always_follow; neither creates redirects.
OPTIONS = "userxattr,redirect_dir=nofollow,metacopy=off,index=off,xino=off"


def _fail(what: str) -> None:
    print(f"error: {what} ({os.strerror(ctypes.get_errno())})", flush=True)
    sys.exit(1)


def main(lower: str, upper: str, work: str, tree: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # goex ends it, by closing standard input
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        _fail("the kernel refused a user namespace")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
        with open(f"/proc/self/{name}", "w", encoding="ascii") as handle:
            handle.write(text)
    data = f"lowerdir={lower},upperdir={upper},workdir={work},{OPTIONS}".encode()
    if libc.mount(b"overlay", tree.encode(), b"overlay", 0, data) != 0:
        _fail("the kernel refused the overlay mount in a user namespace")
    os.chdir(tree)  # the merged view: ``nsenter --wd`` starts an unsandboxed command there
    print("ready", flush=True)
    sys.stdin.buffer.read()  # until goex closes it (or exits)


if __name__ == "__main__":
    main(*sys.argv[1:5])
