-- tries: PRAGMA enable_external_access
-- expect: refused
-- backends: duckdb
-- message: changes the session
PRAGMA enable_profiling
