-- tries: a COMMIT after 2000 harmless statements
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
{{repeat 2000:SELECT 1; }}COMMIT
