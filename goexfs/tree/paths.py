"""Pure path logic: normalisation, containment in a root, symlink-safe resolution, deny globs.

Paths inside a project are handled as *relative POSIX strings* (``"src/app.py"``), never as
absolute paths: a relative path that passed ``normalize`` cannot name anything outside the root
lexically. Symlinks are the other way out; ``resolve_within`` follows a symlink only while it
stays inside the root, and the commit (``goexfs.apply.safefs``) never follows one at all.

Deny globs (``[policy] deny_paths``) are ``fnmatch``-style with ``**``, matched against the
relative path:

* ``*`` and ``?`` never cross a ``/``; ``[...]`` is a character class;
* ``**`` as a whole segment matches any number of segments, including none;
* a pattern without a ``/`` matches the last segment at any depth (``.env`` matches
  ``.env`` and ``config/.env``), as in ``.gitignore``;
* ``dir/**`` matches everything under ``dir`` and ``dir`` itself.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from core.errors import PathError

INTERNAL_DIR = ".goex"  # goex's own state inside a project: never staged, never committed
MAX_SYMLINKS = 40

# Files whose contents are never shown to the model or in a diff.
SECRET_GLOBS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    "credentials",
    "credentials.json",
    "credentials.yaml",
    "credentials.yml",
    "credentials.toml",
    "secrets.json",
    "secrets.yaml",
    "secrets.yml",
    "secrets.toml",
    "secrets.env",
    "*.secret",
    ".aws/**",
    ".ssh/**",
    ".gnupg/**",
)


def normalize(path: str, *, allow_root: bool = False) -> str:
    """A relative path in canonical form (``a/b``); ``""`` is the root itself.

    Rejects (PathError) NUL bytes, absolute paths and any ``..`` component, so that the result
    can be joined to a root without leaving it.
    """
    if "\0" in path:
        raise PathError(f"path {path!r} contains a NUL byte", path=path)
    if path.startswith("/"):
        raise PathError(
            f"path {path!r} is absolute; give a path relative to the project", path=path
        )
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PathError(f"path {path!r} leaves the project through '..'", path=path)
    if not parts and not allow_root:
        raise PathError(f"path {path!r} names the project root, not a file in it", path=path)
    return "/".join(parts)


def parts_of(rel: str) -> tuple[str, ...]:
    """The components of a normalised relative path (``()`` for the root)."""
    return tuple(rel.split("/")) if rel else ()


def parents_of(rel: str) -> list[str]:
    """Every proper ancestor of a relative path, outermost first (the root excluded)."""
    parts = parts_of(rel)
    return ["/".join(parts[:n]) for n in range(1, len(parts))]


def sort_key(rel: str) -> tuple[str, ...]:
    """Sort key that puts a directory right before its contents."""
    return parts_of(rel)


def contains(root: Path, path: Path) -> bool:
    """Whether path is root or lies under it, lexically (no filesystem access)."""
    root_text = os.path.normpath(os.fspath(root))
    path_text = os.path.normpath(os.fspath(path))
    if not os.path.isabs(root_text) or not os.path.isabs(path_text):
        raise PathError("containment is only defined for absolute paths", path=path_text)
    return path_text == root_text or path_text.startswith(root_text.rstrip("/") + "/")


def relative_to(root: Path, path: Path) -> str:
    """path (absolute, or relative to root) as a normalised path relative to root."""
    text = os.fspath(path)
    if "\0" in text:
        raise PathError(f"path {text!r} contains a NUL byte", path=text)
    absolute = Path(os.path.normpath(os.path.join(root, text)))
    if not contains(root, absolute):
        raise PathError(f"path {text} is outside the project {root}", path=text)
    rel = os.path.relpath(absolute, os.path.normpath(root))
    return normalize("" if rel == "." else PurePosixPath(rel).as_posix(), allow_root=True)


def is_internal(rel: str) -> bool:
    """Whether a relative path is goex's own state directory or inside it."""
    parts = parts_of(rel)
    return bool(parts) and parts[0] == INTERNAL_DIR


def resolve_within(root: Path, rel: str) -> Path:
    """The real location of root/rel, following symlinks only while they stay inside root.

    Raises PathError when a symlink leads outside the root, or there are too many of them.
    Components that do not exist are kept as they are.
    """
    root = Path(os.path.normpath(root))
    pending = list(parts_of(normalize(rel, allow_root=True)))
    current = root
    hops = 0
    while pending:
        part = pending.pop(0)
        candidate = current / part
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            current = candidate
            continue
        except OSError as exc:
            raise PathError(f"cannot inspect {candidate}: {exc.strerror}", path=rel) from exc
        if not stat.S_ISLNK(info.st_mode):
            current = candidate
            continue
        hops += 1
        if hops > MAX_SYMLINKS:
            raise PathError(f"too many symlinks while resolving {rel}", path=rel)
        target = os.readlink(candidate)
        joined = Path(os.path.normpath(os.path.join(current, target)))
        if not contains(root, joined):
            raise PathError(f"{rel} leads outside the project through symlink {part}", path=rel)
        pending = list(parts_of(relative_to(root, joined))) + pending
        current = root
    return current


def match_glob(pattern: str, rel: str) -> bool:
    """Whether a relative path matches a deny glob (see the module docstring)."""
    return _compile(pattern).fullmatch(rel) is not None


def matching(patterns: Iterable[str], rel: str) -> str | None:
    """The first pattern that matches rel, if any."""
    for pattern in patterns:
        if match_glob(pattern, rel):
            return pattern
    return None


@dataclass(frozen=True)
class SecretPaths:
    """Which files the sandbox hides and reviews withhold: ``SECRET_GLOBS`` (well-known secret
    files, never source code for its name alone), the operator's ``[fs] secret_paths`` too,
    less ``[fs] not_secret``."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def covers(self, rel: str) -> bool:
        if matching(self.removed, rel) is not None:
            return False
        return matching(SECRET_GLOBS, rel) is not None or matching(self.added, rel) is not None


DEFAULT_SECRETS = SecretPaths()


def is_secret_looking(rel: str, secrets: SecretPaths = DEFAULT_SECRETS) -> bool:
    """Whether a file's contents must be kept from the command, the model and diffs."""
    return secrets.covers(rel)


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    text = pattern.strip().lstrip("/")
    if text.startswith("./"):
        text = text[2:]
    segments = [s for s in text.split("/") if s not in ("", ".")]
    if not segments:
        return re.compile(r"(?!)")
    if len(segments) == 1 and segments[0] != "**" and "/" not in text.rstrip("/"):
        segments = ["**", *segments]  # no slash: matches at any depth
    if segments[-1] == "**" and len(segments) > 1:
        # dir/** matches dir itself and everything under it
        head = _join(segments[:-1])
        return re.compile(head + r"(?:/.*)?", re.DOTALL)
    return re.compile(_join(segments), re.DOTALL)


def _join(segments: list[str]) -> str:
    out = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out += r".*" if last else r"(?:[^/]*/)*"
            continue
        out += _segment(segment) + ("" if last else "/")
    return out


def _segment(segment: str) -> str:
    """One path segment of a glob as a regex that never crosses a '/'."""
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append(r"[^/]*")
        elif char == "?":
            out.append(r"[^/]")
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[{'^/' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)
