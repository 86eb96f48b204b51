"""The SQL texts the DuckDB backend reads the catalog with (each costs milliseconds, so the
backend caches per table what it reads until an action runs DDL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from goexdb import schema
from goexdb.catalog import Catalog
from goexdb.engines import DUCKDB
from goexdb.schema import Schema

# The catalog, diffed before and after an action that runs DDL.
COLUMNS = """
    SELECT schema_name || '.' || table_name, column_name, data_type, column_default,
           table_oid::VARCHAR, column_index,
           table_oid IN (SELECT view_oid FROM duckdb_views()) AS is_view
    FROM duckdb_columns() WHERE NOT internal AND database_name = current_database()
    ORDER BY 1, column_index
"""
INDEXES = """
    SELECT schema_name || '.' || index_name, schema_name || '.' || table_name,
           schema_name || '.' || index_name, sql
    FROM duckdb_indexes() WHERE database_name = current_database()
"""
# (a NOT NULL's text names its column, as PostgreSQL's does: ``NOT NULL "v"``)
CONSTRAINTS = """
    SELECT schema_name || '.' || table_name || '.' || constraint_name,
           schema_name || '.' || table_name, constraint_name,
           CASE WHEN constraint_type = 'NOT NULL' THEN 'NOT NULL "'
                || replace(constraint_column_names[1], '"', '""') || '"' ELSE constraint_text END
    FROM duckdb_constraints() WHERE database_name = current_database()
"""
# A table's columns and their types.
TABLE_COLUMNS = """
    SELECT column_name, data_type FROM duckdb_columns()
    WHERE database_name = current_database() AND schema_name || '.' || table_name = ?
    ORDER BY column_index
"""
# A table's generated columns (computed by DuckDB: an undo never writes them).
GENERATED_COLUMNS = """
    SELECT column_name FROM information_schema.columns
    WHERE table_catalog = current_database() AND table_schema || '.' || table_name = ?
      AND is_generated = 'ALWAYS'
"""
# The columns of a table's keys and indexes (an index on an expression gives its text).
INDEXED = """
    SELECT constraint_column_names::VARCHAR FROM duckdb_constraints()
    WHERE database_name = current_database() AND schema_name || '.' || table_name = ?
      AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
    UNION ALL
    SELECT expressions FROM duckdb_indexes()
    WHERE database_name = current_database() AND schema_name || '.' || table_name = ?
"""
# ``schema.table`` as the catalog spells a name DuckDB matches case-insensitively.
CANONICAL = """
    SELECT schema_name || '.' || table_name FROM duckdb_tables()
    WHERE database_name = current_database()
      AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?)
"""
# The session's temporary tables and views (DuckDB finds one before the database's table of
# its name, for a name that does not give the database), ``schema.name``.
TEMPORARIES = """
    SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE temporary
    UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views()
    WHERE temporary AND database_name = 'temp'
    ORDER BY 1
"""
# A table's primary key columns.
KEY = """
    SELECT constraint_column_names FROM duckdb_constraints()
    WHERE database_name = current_database() AND constraint_type = 'PRIMARY KEY'
      AND schema_name || '.' || table_name = ?
"""

# Approximate rows per table.
# For the model (goexdb.schema): tables and views (DuckDB has no partitions).
RELATIONS = """
    SELECT schema_name || '.' || table_name, 'table', false, NULL, 0, estimated_size
    FROM duckdb_tables() WHERE database_name = current_database()
    UNION ALL
    SELECT schema_name || '.' || view_name, 'view', false, NULL, 0, -1
    FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
    ORDER BY 1
"""
TABLE_SIZES = (
    "SELECT schema_name || '.' || table_name, estimated_size FROM duckdb_tables() "
    "WHERE database_name = current_database()"
)


def read_schema(rows: Callable[[str], Sequence[Sequence[Any]]]) -> Schema:
    return schema.read_schema(rows(RELATIONS), rows(COLUMNS), rows(CONSTRAINTS))


def read_catalog(rows: Callable[[str], Sequence[Sequence[Any]]]) -> Catalog:
    """Columns, indexes and constraints of every table, as ``rows(query)`` reads them."""
    catalog = Catalog(numbers_kept=DUCKDB.keeps_column_numbers)
    for table, column, dtype, default, oid, position, is_view in rows(COLUMNS):
        catalog.add_column(table, column, (dtype, default), (oid, position), is_view and "VIEW")
    catalog.indexes = {r[0]: (r[1], r[2], r[3]) for r in rows(INDEXES)}
    catalog.constraints = {r[0]: (r[1], r[2], r[3]) for r in rows(CONSTRAINTS)}
    return catalog
