-- tries: RESET ALL, to drop goex's lock and statement timeouts
-- expect: refused
-- backends: postgres, duckdb
-- message: changes the session
RESET ALL
