"""The project a file action works on: its root, and goex's own place inside it.

``<root>/.goex/`` (mode 0700, ignored by git) holds the journal, the staged copies
(``staged/``), the pre-images of commits (``undo/``) and the lock; the sandbox hides it from the
command, and never lets the command read the project's secret-looking files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.errors import PathError, TargetError
from goexfs.tree.paths import DEFAULT_SECRETS, INTERNAL_DIR, SecretPaths

STAGING_DIR = "staged"


def project_root(directory: Path) -> Path:
    """The project directory, absolute and with symlinks resolved, or TargetError."""
    try:
        root = directory.expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise TargetError(f"directory {directory} does not exist") from None
    if not root.is_dir():
        raise TargetError(f"{directory} is not a directory")
    if root == Path("/"):
        raise TargetError("goex-fs will not stage the whole filesystem; pick a project directory")
    return root


def workspace_for(root: Path) -> Path:
    """``<root>/.goex/staged``: staged copies live with the project (same filesystem)."""
    internal = root / INTERNAL_DIR
    try:
        internal.mkdir(mode=0o700, exist_ok=True)
        info = internal.lstat()
    except OSError as exc:
        raise PathError(f"cannot create {internal}: {exc.strerror}", path=str(internal)) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PathError(
            f"{internal} is a symlink or a file; goex keeps its state only in a real directory",
            path=str(internal),
        )
    ignore = internal / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return internal / STAGING_DIR


def secret_files(root: Path, secrets: SecretPaths = DEFAULT_SECRETS) -> list[str]:
    """The project's secret regular files (``secrets``), which the sandbox makes unreadable.

    Read from the directory itself by name (no stat, no hashing), since a lazy backend's
    stage-time manifest holds only what a diff has asked for."""
    found: list[str] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(root / rel_dir if rel_dir else root))
        except OSError:
            continue  # unreadable: the command cannot read it either
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if rel == INTERNAL_DIR:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(rel)
            elif entry.is_file(follow_symlinks=False) and secrets.covers(rel):
                found.append(rel)
    return sorted(found)
