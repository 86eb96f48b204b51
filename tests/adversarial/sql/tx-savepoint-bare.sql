-- tries: a SAVEPOINT after a delete
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
DELETE FROM orders WHERE id = 9; SAVEPOINT a; DELETE FROM customers WHERE id = 9
