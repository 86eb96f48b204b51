"""goex's own SQL on PostgreSQL names each catalog relation, and each type a reg* literal
names, by its schema.

PostgreSQL searches a session's temporary schema before pg_catalog for relation and type names
(not for functions or operators), and a client of the proxy may put pg_catalog after a schema
of its own in its search path. goex's measuring queries run in the session of the action they
measure: a temporary view named ``pg_locks`` once took the place of the catalog's, and the rows
an UPDATE wrote were measured as none (the adversarial corpus's ``measured-temp-*`` cases and
``test_hostile`` try it through ``goex-db run`` and the proxy). This reads the source, so that a
query added later cannot name one bare. (The types of casts, ``::text``, are still named bare:
a temporary table of such a name makes goex's queries fail, the action rolled back, never
read wrong.)"""

from __future__ import annotations

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
# a relation read, however the query breaks its lines (not a set-returning function called:
# functions are looked up in pg_catalog first), or a type named in a regclass or reg* literal
BARE = re.compile(
    r"\b(?:FROM|JOIN)\s+(?:LATERAL\s+)?pg_[a-z0-9_]+\b(?!\s*\(|\.)"
    r"|,\s*pg_[a-z0-9_]+\s+[a-z]+\s+(?:JOIN|WHERE|ON|,)"
    r"|'[^'.]*'::reg[a-z]+",
    re.I,
)


def test_goexs_own_sql_names_catalogs_and_types_by_their_schema() -> None:
    found = [
        f"{path.relative_to(PROJECT)}: {match.group(0).strip()}"
        for package in ("core", "goexdb")
        for path in sorted((PROJECT / package).rglob("*.py"))
        for match in BARE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


def test_the_check_sees_a_bare_name() -> None:
    assert BARE.search("SELECT 1 FROM pg_locks l")
    assert BARE.search("  JOIN\n    pg_class c ON true")
    assert BARE.search("FROM pg_catalog.pg_class c, pg_namespace n WHERE")
    assert BARE.search("JOIN LATERAL pg_stat_activity a ON true")
    assert BARE.search("WHERE t = 'float8'::regtype")
    assert BARE.search("'pg_class'::regclass")
    assert not BARE.search("SELECT 1 FROM pg_catalog.pg_locks")
    assert not BARE.search("FROM pg_partition_tree(c.oid)")
    assert not BARE.search("'pg_catalog.float8'::regtype")
