"""goex-db gc: the clones a crashed run left behind, found by their name and dropped.

Clones are named ``goex_clone_<action id>`` (``goexdb.backends.cloning``): databases on the
PostgreSQL server, ``.<file>.goex_clone_<id>`` files next to a DuckDB file. A clone that a
session still uses, or that holds an action kept staged (``keep``), is left alone.
"""

from __future__ import annotations

from collections.abc import Collection

from goexdb.dsn import Engine, Target


def collect(source: Target, keep: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """Drop the clones of ``source``'s server or directory that no session uses.

    Returns (dropped, kept in use). A clone a live goex session is connected to is left alone,
    and so are the clones named in ``keep`` (those of kept actions).
    """
    if source.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb.clone import collect_duckdb

        return collect_duckdb(source, keep)
    from goexdb.backends.postgres.clone import collect_postgres

    return collect_postgres(source, keep)
