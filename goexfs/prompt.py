"""The project as the model sees it: a bounded file listing, a few small files, credential names.

What the model never gets: the contents of secret-looking files (``.env``, keys, ...), anything
under ``.git`` or goex's ``.goex``, binary contents, or any secret value — only the names of the
configured secrets (``SecretStore.describe_for_model``). Everything is redacted again by
``core.llm.Model`` before it is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.secrets import SecretStore
from goexfs.tree.effects import is_binary
from goexfs.tree.manifest import walk
from goexfs.tree.paths import INTERNAL_DIR, is_secret_looking, parts_of

MAX_LISTED = 300
MAX_FILE_BYTES = 4096
MAX_CONTENT_BYTES = 16_000
MAX_CONTENT_FILES = 20
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv"})

SYSTEM = """\
You are a careful shell operator working inside one project directory on Linux. You write a \
single POSIX shell command (or a short script) that carries out the user's request in that \
directory.

Rules:
- Answer with exactly one fenced ```sh code block and nothing else that looks like code.
- The command runs with the project directory as the working directory; use relative paths.
- The command runs in a sandbox without network access; do not download anything.
- Change only what the request asks for. Do not touch .git, .goex or credential files.
- Credentials are environment variables; refer to them by name, never ask for their values.
- Your command runs on a staged copy; a person or policy reviews the resulting changes before \
anything is applied, so do not ask for confirmation."""


@dataclass(frozen=True)
class ProjectPrompt:
    system: str
    user: str


def build_prompt(root: Path, request: str, secrets: SecretStore) -> ProjectPrompt:
    """The system and user messages for a request about the project at root."""
    listing, contents = describe_tree(root)
    parts = [
        f"Project directory: {root}",
        "",
        "Files (path, size in bytes):",
        listing or "(the directory is empty)",
    ]
    if contents:
        parts += ["", "Contents of some small files:", contents]
    parts += ["", secrets.describe_for_model(), "", f"Request: {request}"]
    return ProjectPrompt(SYSTEM, "\n".join(parts))


def describe_tree(root: Path) -> tuple[str, str]:
    """(a bounded listing of the tree, the contents of a few small text files)."""
    lines: list[str] = []
    blocks: list[str] = []
    budget = MAX_CONTENT_BYTES
    hidden = 0
    for rel, path in walk(root, skip=(INTERNAL_DIR,), prune=_pruned):
        parts = parts_of(rel)
        if len(lines) >= MAX_LISTED:
            hidden += 1
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if path.is_symlink():
            lines.append(f"{rel} -> {os.readlink(path)}")
            continue
        if path.is_dir():
            suffix = "  (contents not listed)" if parts[-1] in SKIPPED_DIRS else ""
            lines.append(f"{rel}/{suffix}")
            continue
        note = "  (secret-looking: contents withheld)" if is_secret_looking(rel) else ""
        lines.append(f"{rel}  {info.st_size}{note}")
        if note or not path.is_file() or len(blocks) >= MAX_CONTENT_FILES:
            continue
        if info.st_size > min(MAX_FILE_BYTES, budget):
            continue
        text = _small_text(path)
        if text is not None:
            blocks.append(f"--- {rel}\n{text.rstrip()}\n")
            budget -= len(blocks[-1])
    if hidden:
        lines.append(f"... and {hidden} more paths not listed")
    return "\n".join(lines), "\n".join(blocks)


def _pruned(rel: str) -> bool:
    return parts_of(rel)[-1] in SKIPPED_DIRS


def _small_text(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES or is_binary(data):
        return None
    return data.decode("utf-8")
