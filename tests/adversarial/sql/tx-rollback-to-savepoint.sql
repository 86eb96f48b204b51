-- tries: a savepoint and ROLLBACK TO, to undo part of what was measured
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
SAVEPOINT s1; DELETE FROM orders WHERE id < 5; ROLLBACK TO SAVEPOINT s1
