-- tries: abort, PostgreSQL's synonym for ROLLBACK, then more writes
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
UPDATE orders SET status = 'gone' WHERE id < 50;
abort;
DELETE FROM customers WHERE id > 0;
