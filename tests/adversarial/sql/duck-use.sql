-- tries: USE another catalog
-- expect: refused
-- backends: duckdb
-- message: changes the session
USE system
