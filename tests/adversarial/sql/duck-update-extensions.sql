-- tries: UPDATE EXTENSIONS, which sqlglot reads as an UPDATE and the duckdb module cannot name
-- expect: refused
-- backends: duckdb
-- message: reads or writes outside the database
UPDATE EXTENSIONS
