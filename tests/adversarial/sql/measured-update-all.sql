-- tries: an UPDATE of every row under --decide commit
-- expect: neutralised
-- backends: postgres, duckdb
-- message: has no WHERE clause
-- measured: customers.updated = 30
UPDATE customers SET email = NULL
