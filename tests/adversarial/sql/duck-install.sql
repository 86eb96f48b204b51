-- tries: INSTALL an extension
-- expect: refused
-- backends: duckdb
-- message: reads or writes outside the database
INSTALL httpfs
