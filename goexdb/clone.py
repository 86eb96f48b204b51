"""Clones: a throwaway copy of the target database that an action or a dry-run may change freely.

``make_clone`` copies the database the cheapest way the engine and filesystem allow and says which
way ran and why (``Clone.strategy``, ``Clone.reason``):

* PostgreSQL: ``CREATE DATABASE goex_clone_<tag> TEMPLATE <db> STRATEGY FILE_COPY`` (with
  ``file_copy_method = clone`` on 18+, so a copy-on-write filesystem shares the blocks). The
  server refuses a template other sessions are connected to, after waiting about 5 s; then the
  clone is made with ``pg_dump | pg_restore`` instead, with progress reported.
* DuckDB: ``CHECKPOINT`` (a copy of the file alone would lose what is still in its .wal), then a
  reflink of the file where the filesystem supports it, else a plain copy, next to the original.

Every clone's name starts with ``goex_clone_`` so that ``collect_garbage`` can find the ones a
crash left behind; a clone is never the target itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from core.errors import UsageError
from goexdb.dsn import Engine, Target

CLONE_PREFIX = "goex_clone_"

# progress(done, total) while a slow copy runs; total is an estimate (0 when unknown)
Progress = Callable[[int, int], None]


@dataclass
class Clone:
    """A copy of ``source`` reachable as ``target``, dropped by ``drop()`` (idempotent)."""

    source: Target
    target: Target
    name: str
    strategy: str
    reason: str
    seconds: float
    _drop: Callable[[], None] = field(repr=False)
    dropped: bool = False

    def drop(self) -> None:
        if not self.dropped:
            self._drop()
            self.dropped = True

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "strategy": self.strategy,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
        }


def clone_name(tag: str) -> str:
    name = CLONE_PREFIX + tag.lower()
    if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
        raise UsageError(f"{tag!r} cannot name a clone: use letters, digits and _ only")
    return name


def make_clone(source: Target, tag: str, progress: Progress | None = None) -> Clone:
    """Copy ``source`` into a new clone named after ``tag`` (an action id)."""
    if source.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb_clone import clone_duckdb

        return clone_duckdb(source, clone_name(tag))
    from goexdb.backends.postgres_clone import clone_postgres

    return clone_postgres(source, clone_name(tag), progress)


def collect_garbage(source: Target, keep: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """Drop the clones of ``source``'s server or directory that no session uses.

    Returns (dropped, kept in use). A clone a live goex session is connected to is left alone,
    and so are the clones named in ``keep`` (those of kept actions).
    """
    if source.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb_clone import collect_duckdb

        return collect_duckdb(source, keep)
    from goexdb.backends.postgres_clone import collect_postgres

    return collect_postgres(source, keep)


def attach_clone(source: Target, name: str) -> Clone:
    """A clone of ``source`` kept by an earlier process, found again by its name."""
    if source.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb_clone import attach_duckdb

        return attach_duckdb(source, name)
    from goexdb.backends.postgres_clone import attach_postgres

    return attach_postgres(source, name)
