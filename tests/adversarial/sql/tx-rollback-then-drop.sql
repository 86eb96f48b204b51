-- tries: ROLLBACK to end goex's transaction so that the DROP after it runs outside any review
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
DELETE FROM orders WHERE id < 10;
ROLLBACK;
DROP TABLE customers;
