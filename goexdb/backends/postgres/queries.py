"""The SQL texts the PostgreSQL backend reads the catalog and the transaction's state with.

Each is sent through the wire like any statement, so each is prepared once per session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from goexdb import schema
from goexdb.backends.postgres import lossy
from goexdb.backends.postgres.holdings import CATALOG
from goexdb.catalog import Catalog
from goexdb.engines import POSTGRES, quote_ident, quote_table
from goexdb.schema import Schema

# The schemas of the user's lasting tables: not the system's, whose names are pg_... (PostgreSQL
# reserves the prefix), the temporary ones included: a temporary table goes with the session,
# and its creation, drop or change is no schema change an undo would take back.
_USER_SCHEMAS = "<> 'information_schema' AND left({0}, 3) <> 'pg_'"
COLUMNS = f"""
    SELECT n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
             || CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT typcollation
                  FROM pg_catalog.pg_type WHERE oid = a.atttypid) THEN ' COLLATE ' || (SELECT
                  quote_ident(collname) FROM pg_catalog.pg_collation
                  WHERE oid = a.attcollation) ELSE '' END,
           pg_get_expr(d.adbin, d.adrelid), a.attgenerated::text || a.attidentity::text,
           c.oid::text, a.attnum, CASE WHEN a.attinhcount > 0 THEN
             (SELECT string_agg(i.inhparent::text, ' ') FROM pg_catalog.pg_inherits i
              WHERE i.inhrelid = c.oid)
           END, c.relkind::text
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
      AND n.nspname {_USER_SCHEMAS.format("n.nspname")}
    ORDER BY 1, a.attnum
"""
# Not a partition's index, nor a constraint it or a child inherits: each comes and goes with
# its parent's. With what CREATE INDEX does not make again, as comments at the definition's end
# (``reversible._not_made_again`` reads them).
INDEXES = f"""
    SELECT i.indexrelid::text, n.nspname || '.' || c.relname, n.nspname || '.' || x.relname,
           pg_get_indexdef(i.indexrelid)
             || CASE WHEN i.indisclustered THEN ' /* CLUSTER */' ELSE '' END
             || CASE WHEN i.indisreplident THEN ' /* REPLICA IDENTITY */' ELSE '' END
             || CASE WHEN obj_description(i.indexrelid, 'pg_class') IS NOT NULL
                THEN ' /* COMMENT */' ELSE '' END
    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
    JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname {_USER_SCHEMAS.format("n.nspname")} AND NOT x.relispartition
"""
CONSTRAINTS = f"""
    SELECT k.oid::text, n.nspname || '.' || c.relname, k.conname, pg_get_constraintdef(k.oid)
    FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname {_USER_SCHEMAS.format("n.nspname")} AND (k.conislocal OR k.coninhcount = 0)
"""
FILENODES = f"""
    SELECT c.oid::text, n.nspname || '.' || c.relname, c.relfilenode::text
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm') AND n.nspname {_USER_SCHEMAS.format("n.nspname")}
"""


def rewritten(before: Sequence[Sequence[Any]], after: Sequence[Sequence[Any]]) -> list[str]:
    """The tables whose storage was written anew between two reads of ``FILENODES``, named as
    they are now. Followed by oid: a table dropped and made again under its name is another
    table, not a rewrite; a table renamed is the same one."""
    nodes = {oid: node for oid, _, node in before}
    return sorted(name for oid, name, node in after if nodes.get(oid, node) != node)


# Every relation and advisory lock this transaction holds, read after each statement in one
# round trip; pg_lock_status() reads the whole lock table, so once per query. Every table a
# transaction wrote (cascades and triggers included) is locked until it ends: its row counts come
# with its lock, and the root of its partition tree if it is a partition. So is every sequence
# it called nextval(), setval() or currval() on (a RowExclusiveLock): its value is read only
# then, as reading it takes that lock. Relations below 16384 are the system's own.
# Last, a row of its own: how many rows of the catalogs DDL writes the transaction wrote (a
# function or trigger that changes the schema writes them as a DDL statement does).
SCHEMA_CATALOGS = (  # (qualified: a temporary table takes a name's place before pg_catalog)
    "pg_catalog.pg_class",
    "pg_catalog.pg_attribute",
    "pg_catalog.pg_attrdef",
    "pg_catalog.pg_constraint",
    "pg_catalog.pg_index",
    "pg_catalog.pg_type",
    "pg_catalog.pg_enum",
    "pg_catalog.pg_namespace",
    "pg_catalog.pg_description",
    "pg_catalog.pg_depend",
    "pg_catalog.pg_trigger",
    "pg_catalog.pg_rewrite",
    "pg_catalog.pg_proc",
    "pg_catalog.pg_policy",
    "pg_catalog.pg_sequence",
    "pg_catalog.pg_inherits",
)
CATALOG_WRITES = f"""
    SELECT sum(pg_stat_get_xact_tuples_inserted(k) + pg_stat_get_xact_tuples_updated(k)
               + pg_stat_get_xact_tuples_deleted(k))::bigint
    FROM unnest('{{{",".join(SCHEMA_CATALOGS)}}}'::regclass[]::oid[]) AS k
"""
HELD = f"""
    SELECT coalesce(json_agg(held), '[]') FROM (
      SELECT json_build_array(
             l.locktype, n.nspname, c.relname, l.relation, l.mode, c.relkind,
             CASE WHEN c.relkind IN ('r', 'p', 'm') THEN json_build_array(
               pg_stat_get_xact_tuples_inserted(l.relation),
               pg_stat_get_xact_tuples_updated(l.relation),
               pg_stat_get_xact_tuples_deleted(l.relation)) END,
             CASE WHEN c.relispartition THEN
               (SELECT rn.nspname || '.' || r.relname FROM pg_catalog.pg_class r
                JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
                WHERE r.oid = pg_partition_root(l.relation)) END,
             CASE WHEN c.relkind = 'S' AND l.mode = 'RowExclusiveLock' THEN
               CASE WHEN has_sequence_privilege(l.relation, 'SELECT,USAGE')
                    THEN pg_sequence_last_value(l.relation) END END) AS held
      FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation
      LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE l.pid = pg_backend_pid() AND l.granted
        AND (l.locktype = 'advisory' OR l.locktype = 'relation' AND l.relation >= 16384)
      UNION ALL
      SELECT json_build_array('catalog', NULL, NULL, NULL, NULL, NULL, ({CATALOG_WRITES}),
             NULL, NULL)) AS h
"""
# Counts left in the session's statistics by earlier transactions, over all user tables.
BASELINE = f"""
    SELECT coalesce(json_agg(json_build_array(name, ins, upd, del)), '[]')
    FROM (SELECT (SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = relnamespace)
                   || '.' || relname AS name,
                 pg_stat_get_xact_tuples_inserted(oid) AS ins,
                 pg_stat_get_xact_tuples_updated(oid) AS upd,
                 pg_stat_get_xact_tuples_deleted(oid) AS del
          FROM pg_catalog.pg_class WHERE relkind IN ('r', 'p', 'm') AND oid >= 16384
          UNION ALL SELECT '{CATALOG}', ({CATALOG_WRITES}), 0, 0) t
    WHERE ins + upd + del > 0
"""
# The tables named as written that the locks held could not tell apart, resolved by the server
# exactly as for the statements.
RESOLVE = """
    SELECT x, (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE c.oid = to_regclass(x))
    FROM json_array_elements_text($1::json) x
"""
# The session settings that shape a row's JSON text (a timestamptz's offset, a range of
# dates, an interval, money, a bytea, a float's digits), and the search path the statements'
# names were resolved on (a client of goex-db proxy may set it; its renames are kept as
# written): images are read, compared and written back under the same, and names put back on
# the same path.
SHAPING = (
    "TimeZone",
    "DateStyle",  # (a range of dates or timestamps prints by it)
    "IntervalStyle",
    "lc_monetary",
    "bytea_output",
    "extra_float_digits",
    "search_path",
)
# The settings as the action ends: those, and track_counts, by which the rows no statement
# reported are found (a trigger that left it off wrote rows goex did not count,
# goexdb.reversible).
SETTINGS = (
    "SELECT json_build_object("
    + ", ".join(f"'{name}', current_setting('{name}')" for name in (*SHAPING, "track_counts"))
    + ")::text"
)
# A row's images before and after a statement, appended to its RETURNING (PostgreSQL 18+).
OLD_AND_NEW = ("row_to_json(old.*)::text", "row_to_json(new.*)::text")
# The schema, name and primary key columns of a table a statement writes, named as written,
# whether other tables inherit from it (not as partitions: then a statement's rows of it are
# its children's too, under its name), and its columns whose values an image may not keep.
TABLE = f"""
    SELECT n.nspname, c.relname,
           coalesce((SELECT array_agg(a.attname ORDER BY k.ord)
                     FROM pg_catalog.pg_index i
                     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_catalog.pg_attribute a
                       ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     WHERE i.indrelid = c.oid AND i.indisprimary), '{{}}'),
           c.relkind <> 'p'
             AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhparent = c.oid),
           {lossy.COLUMNS}
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = to_regclass($1)
"""
# The session's temporary relations, and whether one, named as a statement wrote it, is one.
TEMPORARIES = """
    SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.oid = pg_my_temp_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1
"""
TEMPORARY = "SELECT c.relpersistence = 't' FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)"
# Undo writes rows back with triggers, rules and foreign-key actions off, as logical replication
# applies rows (session_replication_role = replica), where the role may set it; a row if it did.
REPLICA = """
    SELECT set_config('session_replication_role', 'replica', true)
    WHERE {}
"""
REPLICA_ALLOWED = "has_parameter_privilege('session_replication_role', 'SET')"  # 15 and later
REPLICA_ALLOWED_BEFORE_15 = (
    "(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)"
)
# The foreign keys into or out of the tables named (JSON; partitions stand for their tree's
# constraints): child, parent, their columns (quoted), whether MATCH FULL, the constraint's name.
FOREIGN_KEYS = """
    WITH tables AS (SELECT to_regclass(x) AS relid FROM json_array_elements_text($1::json) x),
    named AS (SELECT relid FROM tables UNION
              SELECT a.relid FROM tables CROSS JOIN LATERAL pg_partition_ancestors(relid) a)
    SELECT k.conrelid::regclass::text, k.confrelid::regclass::text,
           (SELECT array_agg(quote_ident(a.attname) ORDER BY o) FROM unnest(k.conkey)
                WITH ORDINALITY u(n, o) JOIN pg_catalog.pg_attribute a
                ON a.attrelid = k.conrelid AND a.attnum = u.n),
           (SELECT array_agg(quote_ident(a.attname) ORDER BY o) FROM unnest(k.confkey)
                WITH ORDINALITY u(n, o) JOIN pg_catalog.pg_attribute a
                ON a.attrelid = k.confrelid AND a.attnum = u.n),
           k.confmatchtype = 'f', k.conname
    FROM pg_catalog.pg_constraint k
    WHERE k.contype = 'f' AND k.conparentid = 0
      AND (k.conrelid IN (SELECT relid FROM named) OR k.confrelid IN (SELECT relid FROM named))
"""


def key_json(alias: str, key: Sequence[str]) -> str:
    """The primary key of a row as JSON text, computed by the server (NULL without a key)."""
    if not key:
        return "NULL::text"
    return f"json_build_array({', '.join(f'{alias}.{quote_ident(c)}' for c in key)})::text"


def restoring(
    rows: Callable[..., Sequence[Sequence[Any]]], settings: Mapping[str, str], version: int | None
) -> bool:
    """Set up the open transaction for an undo: standard strings (its literals are goex's own,
    written so: a backslash is itself), the settings the images were read under, constraints
    checked as each statement ends (a deferred constraint trigger fires before the undo is
    measured and its rows read back, not at its COMMIT, after them), and
    session_replication_role = replica, if the role may (whether it was); and work_mem at
    least 32MB, so that the joins of its images with their tables' rows fit in memory (a
    hundred thousand rows: 11MB)."""
    rows(
        "SELECT set_config('standard_conforming_strings', 'on', true), CASE WHEN "
        "pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('32MB') "
        "THEN set_config('work_mem', '32MB', true) END"
    )
    rows("SET CONSTRAINTS ALL IMMEDIATE")
    for name in SHAPING:  # as when the images were read
        if name in settings:
            rows("SELECT set_config($1, $2, true)", name, str(settings[name]))
    allowed = REPLICA_ALLOWED if (version or 0) >= 150000 else REPLICA_ALLOWED_BEFORE_15
    return bool(rows(REPLICA.format(allowed)))


def dangling(
    rows: Callable[..., Sequence[Sequence[Any]]], tables: Sequence[str]
) -> list[dict[str, object]]:
    """The foreign keys into or out of these tables (``schema.table``) that rows now break, with
    how many distinct keys refer to no row: a key with a NULL column refers to nothing (MATCH
    SIMPLE), unless all must be NULL (FULL). EXCEPT, hashed or sorted, never a nested loop: the
    planner's estimates are stale just after an undo re-inserted a table's rows."""
    named = json.dumps([quote_table(t) for t in tables], ensure_ascii=False)
    found: list[dict[str, object]] = []
    for child, parent, columns, keys, full, name in rows(FOREIGN_KEYS, named):
        present = (" OR " if full else " AND ").join(f"{c} IS NOT NULL" for c in columns)
        ((count,),) = rows(
            f"SELECT count(*) FROM (SELECT {', '.join(columns)} FROM {child} WHERE {present} "
            f"EXCEPT SELECT {', '.join(keys)} FROM {parent}) AS dangling"
        )
        if count:
            found.append({"constraint": name, "table": child, "keys": int(count)})
    return found


# Approximate rows per table (the planner's estimate; -1 when never analysed).
# For the model (goexdb.schema): relations, partitions counted on their root, enums, domains.
RELATIONS = f"""
    SELECT n.nspname || '.' || c.relname, c.relkind::text, c.relispartition,
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
           CASE WHEN c.relkind = 'p' THEN (SELECT count(*) FROM pg_partition_tree(c.oid) t
                                           WHERE t.isleaf) END,
           CASE WHEN c.relkind = 'p' THEN (
               SELECT coalesce(sum(greatest(p.reltuples, 0)), 0)::bigint
               FROM pg_partition_tree(c.oid) t JOIN pg_catalog.pg_class p ON p.oid = t.relid
               WHERE t.isleaf)
           ELSE c.reltuples::bigint END
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname {_USER_SCHEMAS.format("n.nspname")}
    ORDER BY 1
"""
TYPES = f"""
    SELECT n.nspname || '.' || t.typname,
           CASE t.typtype
           WHEN 'e' THEN 'ENUM (' || (SELECT string_agg(quote_literal(e.enumlabel), ', '
                                                        ORDER BY e.enumsortorder)
                                      FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) || ')'
           ELSE 'DOMAIN ' || format_type(t.typbasetype, t.typtypmod)
                || coalesce(' ' || (SELECT string_agg(pg_get_constraintdef(k.oid), ' ')
                                    FROM pg_catalog.pg_constraint k WHERE k.contypid = t.oid), '')
           END
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd') AND n.nspname {_USER_SCHEMAS.format("n.nspname")}
    ORDER BY 1
"""
TABLE_SIZES = (
    "SELECT n.nspname || '.' || c.relname, c.reltuples::bigint FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
)


def read_schema(rows: Callable[[str], Sequence[Sequence[Any]]]) -> Schema:
    return schema.read_schema(rows(RELATIONS), rows(COLUMNS), rows(CONSTRAINTS), rows(TYPES))


VIEWS = {"v": "VIEW", "m": "MATERIALIZED VIEW"}  # relkind -> what a view is dropped as


def read_catalog(rows: Callable[[str], Sequence[Sequence[Any]]]) -> Catalog:
    """Columns, indexes and constraints of every user table, as ``rows(query)`` reads them."""
    catalog = Catalog(numbers_kept=POSTGRES.keeps_column_numbers)
    for table, column, dtype, default, generation, oid, number, parents, kind in rows(COLUMNS):
        catalog.add_column(table, column, (dtype, default), (oid, number), VIEWS.get(kind))
        if parents:  # an inherited column (of a partition, or a table inheriting)
            catalog.parents[table] = str(parents).split()
        if generation:
            catalog.generation.setdefault(table, {})[column] = generation
    catalog.indexes = {r[0]: (r[1], r[2], r[3]) for r in rows(INDEXES)}
    catalog.constraints = {r[0]: (r[1], r[2], r[3]) for r in rows(CONSTRAINTS)}
    return catalog
