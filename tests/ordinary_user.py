"""Run tests as an ordinary user that the test creates: CI runs as root, most users are not.

``as_ordinary_user`` starts a command as the user ``goex-ordinary`` (created when missing: no
login shell, no password). The interpreter, the virtualenv and this checkout may lie where that
user cannot reach them (a checkout under ``/root``, a pyenv interpreter in root's home), so the
command starts in a private mount namespace of its own where each of them is also bind-mounted
under a fresh directory the user can reach; nothing on the host changes. The user then runs the
same interpreter and code, with this checkout first on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

USER = "goex-ordinary"
CHECKOUT = Path(__file__).resolve().parent.parent


def ordinary_user() -> pwd.struct_passwd:
    """The test user, created on first use."""
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(USER)


def run_as_ordinary_user(
    python_args: Sequence[str],
    *,
    env: Mapping[str, str],
    paths: Mapping[str, Path] = {},
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Run ``python python_args`` as the ordinary user, from this checkout's top directory,
    with ``env`` added to a clean environment (``HOME`` is a fresh directory of theirs).
    ``paths`` are more environment variables, each naming a directory the user must reach:
    it is bind-mounted like the checkout and the variable names where the user sees it."""
    user = ordinary_user()
    with tempfile.TemporaryDirectory(prefix="goex-ordinary-") as place:
        os.chmod(place, 0o755)
        home = Path(place) / "home"
        home.mkdir()
        os.chown(home, user.pw_uid, user.pw_gid)
        sources = _outermost([Path(sys.base_prefix), Path(sys.prefix), CHECKOUT, *paths.values()])
        mounted = {source: Path(place) / f"m{index}" for index, source in enumerate(sources)}
        for target in mounted.values():
            target.mkdir()

        def seen(path: Path) -> str:
            source = next(s for s in sources if path == s or s in path.parents)
            return str(mounted[source] / path.relative_to(source))

        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        site_packages = Path(sys.prefix) / "lib" / version / "site-packages"
        binds = [
            f"mount --bind {shlex.quote(str(s))} {shlex.quote(str(t))}" for s, t in mounted.items()
        ]
        drop = f"setpriv --reuid={user.pw_uid} --regid={user.pw_gid} --clear-groups"
        script = " && ".join(
            [
                *binds,
                f"cd {shlex.quote(seen(CHECKOUT))}",
                f'exec {drop} -- {shlex.quote(seen(Path(sys.base_prefix) / "bin" / version))} "$@"',
            ]
        )
        clean = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": f"{seen(CHECKOUT)}:{seen(site_packages)}",
            "LD_LIBRARY_PATH": seen(Path(sys.base_prefix) / "lib"),  # libpython, if shared
            **{name: seen(path) for name, path in paths.items()},
        }
        return subprocess.run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
                script,
                "sh",
                *python_args,
            ],
            env=clean | env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _outermost(paths: list[Path]) -> list[Path]:
    """The paths, without those that lie inside another of them."""
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept
