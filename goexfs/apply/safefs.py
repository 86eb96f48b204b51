"""Filesystem operations that never pass through a symlink and never leave their root.

Every path is walked one component at a time from an open directory descriptor of the root,
each step opened with ``O_NOFOLLOW | O_DIRECTORY``: the kernel itself refuses a component that
is a symlink, so there is no window between checking a path and using it (unlike ``lstat``
followed by ``open``). The last component is then created, replaced or removed relative to its
parent's descriptor — ``rename`` and ``unlink`` act on a symlink itself, never on its target.

Used by the commit (``goexfs.apply.commit``) and by anything that reads the real root.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from core.errors import ConflictError, PathError
from goexfs.tree.manifest import CHUNK, Entry, entry_at
from goexfs.tree.paths import normalize, parts_of

TMP_PREFIX = ".goex-"  # temporary files of an atomic write: <prefix><random hex>.tmp
TMP_SUFFIX = ".tmp"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextmanager
def opened_dir(path: Path) -> Iterator[int]:
    """A descriptor of a directory (the root of a walk), closed on exit."""
    try:
        fd = os.open(path, DIR_FLAGS)
    except OSError as exc:
        raise PathError(f"cannot open directory {path}: {exc.strerror}", path=str(path)) from exc
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def parent_of(root_fd: int, rel: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
    """(descriptor of the directory holding rel, rel's last component), closed on exit.

    Every component on the way must be a real directory; a symlink or a non-directory raises
    PathError. A missing component raises FileNotFoundError, or is created (mode 0700) when
    ``create`` is set.
    """
    parts = parts_of(normalize(rel))
    fd = os.dup(root_fd)
    try:
        for index, part in enumerate(parts[:-1]):
            parent, fd = fd, -1  # _step closes the parent, also when it raises
            fd = _step(parent, part, "/".join(parts[: index + 1]), create)
        yield fd, parts[-1]
    finally:
        if fd >= 0:
            os.close(fd)


@contextmanager
def opened_subdir(root_fd: int, rel: str, *, create: bool = False) -> Iterator[int]:
    """A descriptor of the directory rel under root_fd (``""`` is root_fd itself), walked
    without following symlinks; missing directories are created (0700) when ``create``."""
    if not normalize(rel, allow_root=True):
        fd = os.dup(root_fd)
    else:
        with parent_of(root_fd, rel, create=create) as (parent_fd, name):
            fd = _step(os.dup(parent_fd), name, rel, create)
    try:
        yield fd
    finally:
        os.close(fd)


def _step(fd: int, part: str, where: str, create: bool) -> int:
    try:
        try:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                raise
            with suppress(FileExistsError):
                os.mkdir(part, 0o700, dir_fd=fd)
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise PathError(
                f"{where} is a symlink or not a directory; goex never writes through one",
                path=where,
            ) from exc
        if isinstance(exc, FileNotFoundError):
            raise
        raise PathError(f"cannot open {where}: {exc.strerror}", path=where) from exc
    finally:
        os.close(fd)
    return child


def lookup(root_fd: int, rel: str) -> Entry | None:
    """The entry at rel (hashed if a file), or None when it or a parent does not exist."""
    try:
        with parent_of(root_fd, rel) as (fd, name):
            return entry_at(name, dir_fd=fd)
    except FileNotFoundError:
        return None


def read_bytes(root_fd: int, rel: str, limit: int) -> bytes | None:
    """The contents of the regular file at rel, or None if it is absent, not a regular file,
    or larger than limit bytes."""
    try:
        with parent_of(root_fd, rel) as (dir_fd, name):
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except (FileNotFoundError, PathError):
        return None
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        chunks = []
        while chunk := os.read(fd, CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_file(
    dir_fd: int,
    name: str,
    source_fd: int,
    *,
    mode: int,
    mtime_ns: int,
    sha256: str | None,
    where: str,
    tmp_prefix: str = TMP_PREFIX,
) -> None:
    """Atomically put the contents of source_fd at name: a temporary file in the same
    directory, fsynced, then ``rename`` over name (which replaces a symlink, never follows it).

    Raises ConflictError, leaving name untouched, when the bytes read do not hash to sha256
    (the staged file is not what was reviewed). ``tmp_prefix`` names the temporary file, so
    that recovery can find (only) its own leftovers.
    """
    tmp = f"{tmp_prefix}{secrets.token_hex(6)}{TMP_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
    try:
        digest = hashlib.sha256()
        while chunk := os.read(source_fd, CHUNK):
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ConflictError(
                f"staged file {where} changed after it was reviewed; nothing was written to it",
                path=where,
            )
        os.fchmod(fd, mode)
        os.utime(fd, ns=(mtime_ns, mtime_ns))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _quiet_unlink(tmp, dir_fd)
        raise
    os.close(fd)
    try:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        _quiet_unlink(tmp, dir_fd)
        raise


def write_bytes(dir_fd: int, name: str, data: bytes) -> None:
    """Atomically write a small private (0600) file, such as an undo record."""
    tmp = f".goex-{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def make_symlink(dir_fd: int, name: str, target: str, *, tmp_prefix: str = TMP_PREFIX) -> None:
    """Atomically make name a symlink to target (replacing a file or symlink there)."""
    tmp = f"{tmp_prefix}{secrets.token_hex(6)}{TMP_SUFFIX}"
    os.symlink(target, tmp, dir_fd=dir_fd)
    try:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        _quiet_unlink(tmp, dir_fd)
        raise


def remove(dir_fd: int, name: str, *, is_dir: bool) -> None:
    """Remove a file, symlink or (empty) directory; a missing one is fine."""
    try:
        if is_dir:
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def set_mode(dir_fd: int, name: str, mode: int) -> None:
    """chmod name itself (a file or directory), refusing to act on a symlink."""
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            raise PathError(f"{name} is a symlink; goex does not chmod through one", path=name)
        os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)


def fsync_dir(dir_fd: int) -> None:
    try:
        os.fsync(dir_fd)
    except OSError as exc:  # some filesystems cannot fsync a directory
        if exc.errno not in (errno.EINVAL, errno.EROFS):
            raise


def open_source(root_fd: int, rel: str) -> int:
    """A read descriptor of the regular file at rel (no symlink anywhere on the way)."""
    with parent_of(root_fd, rel) as (dir_fd, name):
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as exc:
            raise PathError(f"cannot read {rel}: {exc.strerror}", path=rel) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PathError(f"{rel} is not a regular file", path=rel)
    return fd


def _quiet_unlink(name: str, dir_fd: int) -> None:
    with suppress(OSError):
        os.unlink(name, dir_fd=dir_fd)
