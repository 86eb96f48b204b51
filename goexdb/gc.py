"""goex-db gc: the clones a crashed run left behind, found by their name and dropped.

Clones are named ``goex_clone_<action id>`` (``goexdb.backends.cloning``): databases on the
PostgreSQL server, ``.<file>.goex_clone_<id>`` files next to a DuckDB file. The clones named
in ``keep`` (those of actions not finished: being staged, held or kept) are left alone, and so,
on PostgreSQL, is a clone a session is still connected to.
"""

from __future__ import annotations

from collections.abc import Collection

from goexdb.dsn import Engine, Target


def collect(source: Target, keep: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """Drop the clones of ``source``'s server or directory that no session uses.

    Returns (dropped, kept). Kept: the clones named in ``keep``, and on PostgreSQL a clone a
    live session is connected to.
    """
    if source.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb.clone import collect_duckdb

        return collect_duckdb(source, keep)
    from goexdb.backends.postgres.clone import collect_postgres

    return collect_postgres(source, keep)
