"""Clones: a throwaway copy of the target database that an action or a dry-run may change freely.

``make_clone`` copies the database the cheapest way the engine and filesystem allow and says which
way ran and why (``Clone.strategy``, ``Clone.reason``):

* PostgreSQL: ``CREATE DATABASE goex_clone_<tag> TEMPLATE <db> STRATEGY FILE_COPY`` (with
  ``file_copy_method = clone`` on 18+, so a copy-on-write filesystem shares the blocks). The
  server refuses a template other sessions are connected to, after waiting about 5 s; then the
  clone is made with ``pg_dump | pg_restore`` instead, with progress reported.
* DuckDB: ``CHECKPOINT`` (a copy of the file alone would lose what is still in its .wal), then a
  reflink of the file where the filesystem supports it, else a plain copy, next to the original.

Every clone's name starts with ``goex_clone_`` so that ``goexdb.gc.collect`` can find the ones a
crash left behind; a clone is never the target itself. What a clone is (``Clone``, its name) is
``goexdb.backends.cloning``, which the engines import; this module only picks the engine, and
imports it when it is needed, so that one engine's driver is never loaded for the other's.
"""

from __future__ import annotations

from goexdb.backends.cloning import CLONE_PREFIX, Clone, Progress, clone_name
from goexdb.dsn import Engine, Target

__all__ = [
    "CLONE_PREFIX",
    "Clone",
    "Progress",
    "attach_clone",
    "clone_name",
    "make_clone",
]


def make_clone(source: Target, tag: str, progress: Progress | None = None) -> Clone:
    """Copy ``source`` into a new clone named after ``tag`` (an action id)."""
    if source.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb.clone import clone_duckdb

        return clone_duckdb(source, clone_name(tag))
    from goexdb.backends.postgres.clone import clone_postgres

    return clone_postgres(source, clone_name(tag), progress)


def attach_clone(source: Target, name: str) -> Clone:
    """A clone of ``source`` kept by an earlier process, found again by its name."""
    if source.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb.clone import attach_duckdb

        return attach_duckdb(source, name)
    from goexdb.backends.postgres.clone import attach_postgres

    return attach_postgres(source, name)
