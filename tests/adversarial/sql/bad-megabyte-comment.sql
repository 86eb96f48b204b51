-- tries: a COMMIT after 1 MB of comment
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
/* {{repeat 1048576:x}} */ SELECT 1; COMMIT
