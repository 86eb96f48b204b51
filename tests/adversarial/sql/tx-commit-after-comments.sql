-- tries: COMMIT behind block and line comments
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
DELETE FROM orders WHERE id = 3; /* nothing to see */ -- really
/**/COMMIT/**/;
