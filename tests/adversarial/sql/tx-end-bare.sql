-- tries: a bare END, PostgreSQL's synonym for COMMIT
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
END
