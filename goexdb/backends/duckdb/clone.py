"""DuckDB clones: the database file checkpointed, then reflinked (or copied) next to itself.

A clone of ``shop.duckdb`` is ``.shop.duckdb.goex_clone_<tag>`` in the same directory: the same
filesystem, so a reflink can share every block, and easy for ``collect_duckdb`` to find.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from collections.abc import Collection
from pathlib import Path

import duckdb

from core.errors import TargetError
from goexdb.backends.cloning import CLONE_PREFIX, Clone
from goexdb.backends.duckdb.errors import translated
from goexdb.dsn import Engine, Target

FICLONE = 0x40049409  # _IOW(0x94, 9, int): share all of a file's blocks (btrfs, xfs, ...)


def clone_duckdb(source: Target, name: str) -> Clone:
    assert source.path is not None
    started = time.monotonic()
    _checkpoint(source.path)
    path = _clone_path(source.path, name)
    strategy, reason = copy_file(source.path, path)
    target = Target(Engine.DUCKDB, f"duckdb:{path}", path=path)
    return Clone(
        source, target, name, strategy, reason, time.monotonic() - started, lambda: _remove(path)
    )


def collect_duckdb(source: Target, keep: Collection[str] = ()) -> tuple[list[str], list[str]]:
    assert source.path is not None
    dropped, kept = [], []
    for path in sorted(source.path.parent.glob(f".{source.path.name}.{CLONE_PREFIX}*")):
        if path.name.endswith(".wal"):
            continue
        if path.name.removeprefix(f".{source.path.name}.") in keep:
            kept.append(path.name.removeprefix(f".{source.path.name}."))
            continue
        _remove(path)
        dropped.append(path.name)
    return dropped, kept


def copy_file(source: Path, target: Path) -> tuple[str, str]:
    """Reflink source to target where the filesystem can, else copy it; (strategy, why)."""
    with open(source, "rb") as src, open(target, "xb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            return "reflink", "the filesystem shares blocks between files (copy-on-write)"
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL):
                raise
            why = os.strerror(exc.errno)
        shutil.copyfileobj(src, dst, 1 << 20)
    return "copy", f"the filesystem cannot reflink ({why})"


def _checkpoint(path: Path) -> None:
    """Fold the .wal into the file, so that a copy of the file alone is the whole database."""
    with (
        translated(f"cannot checkpoint {path} before cloning", TargetError),
        duckdb.connect(str(path)) as con,
    ):
        con.execute("CHECKPOINT")


def _clone_path(source: Path, name: str) -> Path:
    return source.with_name(f".{source.name}.{name}")


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def attach_duckdb(source: Target, name: str) -> Clone:
    """The clone ``name`` an earlier process kept (``--decide keep``), to drop or inspect."""
    assert source.path is not None
    path = _clone_path(source.path, name)
    if not path.exists():
        raise TargetError(f"clone {path} is gone (removed by goex-db gc?)")
    target = Target(Engine.DUCKDB, f"duckdb:{path}", path=path)
    return Clone(
        source, target, name, "kept", "kept by an earlier goex-db run", 0.0, lambda: _remove(path)
    )
