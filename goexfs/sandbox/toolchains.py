"""Toolchains outside the project the sandboxed command may read: ``[fs] read_paths``
(operator-only), bound read-only over the tmpfs that hides the home directory and over the
fresh /tmp, so a virtualenv, pyenv, nvm or rustup there runs inside the sandbox."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from core.config import user_config_file
from core.errors import ConfigError
from core.journal import state_home
from goexfs.tree.paths import contains


def readable_paths(configured: Sequence[str], root: Path) -> list[Path]:
    """The ``[fs] read_paths`` that exist, absolute (``~`` is the home directory); refused
    (ConfigError) is one that would show what the sandbox hides for its own sake: one that
    holds a home directory whole (``~``, ``/home``, ``/``), or holds or lies in goex's config or
    state (keys, the secrets file, the journal)."""
    found: list[Path] = []
    homes = [Path.home(), Path("/root")]
    goex = [user_config_file().parent, state_home()]
    for text in configured:
        path = Path(os.path.abspath(os.path.expanduser(text)))
        if any(contains(path, g) for g in homes + goex) or any(contains(g, path) for g in goex):
            raise ConfigError(
                f"fs read_paths: {text} would show the sandboxed command what it must not read "
                "(a home directory whole, goex's config or state)",
                key="fs.read_paths",
            )
        if path.is_dir() and not contains(root, path) and not contains(path, root):
            found.append(path)
    return found
