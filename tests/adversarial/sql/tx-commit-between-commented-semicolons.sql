-- tries: commit between comments that hold semicolons, then a DROP
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
UPDATE orders SET status = 'x' WHERE id = 1 /* ; */; commit /* ; */; DROP TABLE customers
