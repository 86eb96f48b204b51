-- tries: a bare COMMIT, to end the transaction goex holds
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
COMMIT
