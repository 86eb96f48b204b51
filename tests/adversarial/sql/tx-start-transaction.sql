-- tries: START TRANSACTION with another isolation level
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
START TRANSACTION ISOLATION LEVEL READ UNCOMMITTED
