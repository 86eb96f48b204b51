-- tries: ATTACH a new database file
-- expect: refused
-- backends: duckdb
-- message: reads or writes outside the database
ATTACH '{{tmp}}/other.duckdb' AS other
