"""What "the database is unchanged" means, as ANOTHER connection sees it: every user table's
rows and every piece of schema, roles, settings and server state that SQL could change.

A fingerprint is a dict of named lists; two are compared with ``==`` (pytest shows which part
differs). It is read through a fresh connection, never goex's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import psycopg

Fingerprint = dict[str, list[Any]]

_USER = "NOT IN ('pg_catalog', 'information_schema') AND {0} NOT LIKE 'pg_toast%'"

# Each query reads one part of the database's state, as text, in a stable order.
_PG_PARTS = {
    "schemas": f"SELECT nspname FROM pg_namespace WHERE nspname {_USER.format('nspname')} "
    "ORDER BY 1",
    "relations": f"""SELECT n.nspname, c.relname, c.relkind, c.relowner::regrole::text,
                            coalesce(c.relacl::text, ''), c.relrowsecurity
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname {_USER.format("n.nspname")} ORDER BY 1, 2""",
    "columns": f"""SELECT table_schema, table_name, column_name, data_type,
                          coalesce(column_default, ''), is_nullable
                   FROM information_schema.columns WHERE table_schema {_USER.format("table_schema")}
                   ORDER BY 1, 2, ordinal_position""",
    "constraints": f"""SELECT n.nspname, k.conname, pg_get_constraintdef(k.oid)
                       FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
                       WHERE n.nspname {_USER.format("n.nspname")} ORDER BY 1, 2""",
    "indexes": f"SELECT schemaname, indexname, indexdef FROM pg_indexes "
    f"WHERE schemaname {_USER.format('schemaname')} ORDER BY 1, 2",
    "views": f"SELECT schemaname, viewname, definition FROM pg_views "
    f"WHERE schemaname {_USER.format('schemaname')} ORDER BY 1, 2",
    "routines": f"""SELECT n.nspname, p.proname, p.prokind, p.prosecdef, md5(p.prosrc),
                           coalesce(p.proconfig::text, '')
                    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname {_USER.format("n.nspname")} ORDER BY 1, 2""",
    "triggers": "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger "
    "WHERE NOT tgisinternal ORDER BY 1, 2",
    "rules": f"SELECT schemaname, tablename, rulename FROM pg_rules "
    f"WHERE schemaname {_USER.format('schemaname')} ORDER BY 1, 2, 3",
    "policies": "SELECT schemaname, tablename, policyname FROM pg_policies ORDER BY 1, 2, 3",
    "sequences": "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2",
    "comments": "SELECT classoid::regclass::text, objoid::text, objsubid, description "
    "FROM pg_description WHERE objoid >= 16384 ORDER BY 1, 2, 3",
    "shared_comments": "SELECT classoid::regclass::text, objoid::text, description "
    "FROM pg_shdescription ORDER BY 1, 2",
    "roles": "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolconnlimit, "
    "md5(coalesce(rolpassword, '')) FROM pg_authid ORDER BY 1",
    "role_settings": "SELECT setdatabase, setrole, setconfig::text FROM pg_db_role_setting "
    "ORDER BY 1, 2",
    "databases": "SELECT datname, datallowconn, datconnlimit FROM pg_database ORDER BY 1",
    "extensions": "SELECT extname, extversion FROM pg_extension ORDER BY 1",
    "large_objects": "SELECT oid::text FROM pg_largeobject_metadata ORDER BY 1",
    "prepared_transactions": "SELECT gid FROM pg_prepared_xacts ORDER BY 1",
    "file_settings": "SELECT sourcefile, name, setting FROM pg_file_settings ORDER BY 1, 2",
    "publications": "SELECT pubname FROM pg_publication ORDER BY 1",
    "event_triggers": "SELECT evtname FROM pg_event_trigger ORDER BY 1",
    "foreign_servers": "SELECT srvname FROM pg_foreign_server ORDER BY 1",
}
_PG_TABLES = f"""SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname {_USER.format("n.nspname")}
                 ORDER BY 1"""


def postgres(dsn: str) -> Fingerprint:
    """The state of a PostgreSQL database (and the server-wide parts SQL could change)."""
    with psycopg.connect(dsn, autocommit=True) as con:
        found: Fingerprint = {
            part: [tuple(row) for row in con.execute(query).fetchall()]
            for part, query in _PG_PARTS.items()
        }
        found["rows"] = []
        for (table,) in con.execute(_PG_TABLES).fetchall():
            digest = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                f" FROM {table} t"
            ).fetchone()
            found["rows"].append((table, *(digest or ())))
    return found


_DUCK_PARTS = {
    "tables": "SELECT schema_name, table_name, sql FROM duckdb_tables() ORDER BY 1, 2",
    "columns": "SELECT schema_name, table_name, column_name, data_type, column_default "
    "FROM duckdb_columns() ORDER BY 1, 2, column_index",
    "constraints": "SELECT schema_name, table_name, constraint_text FROM duckdb_constraints() "
    "ORDER BY 1, 2, 3",
    "indexes": "SELECT schema_name, index_name, sql FROM duckdb_indexes() ORDER BY 1, 2",
    "views": "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal "
    "ORDER BY 1, 2",
    "sequences": "SELECT schema_name, sequence_name, start_value, last_value FROM "
    "duckdb_sequences() ORDER BY 1, 2",
    "macros": "SELECT schema_name, function_name, function_type FROM duckdb_functions() "
    "WHERE NOT internal ORDER BY 1, 2",
    "schemas": "SELECT schema_name FROM duckdb_schemas() WHERE NOT internal ORDER BY 1",
    "types": "SELECT schema_name, type_name FROM duckdb_types() WHERE NOT internal ORDER BY 1, 2",
    "secrets": "SELECT name FROM duckdb_secrets() ORDER BY 1",
}


def duckdb_file(path: Path) -> Fingerprint:
    """The state of a DuckDB database file, read through a new read-only connection."""
    with duckdb.connect(str(path), read_only=True) as con:
        found: Fingerprint = {
            part: [tuple(row) for row in con.execute(query).fetchall()]
            for part, query in _DUCK_PARTS.items()
        }
        found["rows"] = []
        tables = con.execute(
            "SELECT format('{}.{}', schema_name, table_name) FROM duckdb_tables() ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            digest = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::VARCHAR, chr(10) "
                f"ORDER BY t::VARCHAR), '')) FROM {table} t"
            ).fetchone()
            found["rows"].append((table, *(digest or ())))
    return found


def files(directory: Path) -> list[tuple[str, int]]:
    """Every path under a directory, with its size: a scratch directory must stay empty."""
    return sorted(
        (str(p.relative_to(directory)), p.stat().st_size if p.is_file() else -1)
        for p in directory.rglob("*")
    )


def orders_lockable(dsn: str) -> bool:
    """Whether another session can lock the corpus's first ten orders now (no one holds them)."""
    with psycopg.connect(dsn) as con:
        try:
            con.execute("SELECT * FROM orders WHERE id <= 10 FOR UPDATE NOWAIT")
        except psycopg.errors.LockNotAvailable:
            return False
        return True
