"""goex's own SQL on PostgreSQL names each catalog relation and built-in type by its schema.

PostgreSQL searches a session's temporary schema before pg_catalog for relation and type names
(not for functions or operators), and a client of the proxy may put pg_catalog after a schema
of its own in its search path. goex's measuring queries run in the session of the action they
measure: a temporary view named ``pg_locks`` once took the place of the catalog's, and the rows
an UPDATE wrote were measured as none (the adversarial corpus's ``measured-temp-*`` cases and
``test_hostile`` try it through ``goex-db run`` and the proxy). This reads the source, so that a
query added later cannot name one bare."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
# a relation read (not a set-returning function called: those are searched in pg_catalog
# first), or a type named in a regtype literal
BARE = re.compile(
    r"\b(?:FROM|JOIN)\s+pg_[a-z_]+\b(?!\s*\(|\.)|'(?!pg_catalog\.)[a-z_0-9]+'::regtype", re.I
)


def test_goexs_own_sql_names_catalogs_and_types_by_their_schema() -> None:
    found = [
        f"{path.relative_to(PROJECT)}:{number}: {line.strip()}"
        for package in ("core", "goexdb")
        for path in sorted((PROJECT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BARE.search(line)
    ]
    assert not found, "\n".join(found)


def test_the_check_sees_a_bare_name() -> None:
    assert BARE.search("SELECT 1 FROM pg_locks l")
    assert BARE.search("  JOIN pg_class c ON true")
    assert BARE.search("WHERE t = 'float8'::regtype")
    assert not BARE.search("SELECT 1 FROM pg_catalog.pg_locks")
    assert not BARE.search("FROM pg_partition_tree(c.oid)")
    assert not BARE.search("'pg_catalog.float8'::regtype")
