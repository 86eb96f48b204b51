-- tries: EXPORT DATABASE to a directory
-- expect: refused
-- backends: duckdb
-- message: reads or writes outside the database
EXPORT DATABASE '{{tmp}}/dump'
