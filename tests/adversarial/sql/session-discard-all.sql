-- tries: DISCARD ALL, which would also drop the transaction's state
-- expect: refused
-- backends: postgres, duckdb
-- message: changes the session
DISCARD ALL
