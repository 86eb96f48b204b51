-- tries: a backslash before a quote, hoping goex reads 'a\' as unfinished and misses the COMMIT (both goex and the database see two statements)
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
SELECT 'a\'; COMMIT; --'
