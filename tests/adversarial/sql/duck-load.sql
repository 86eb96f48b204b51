-- tries: LOAD an extension
-- expect: refused
-- backends: duckdb
-- message: reads or writes outside the database
load httpfs;
