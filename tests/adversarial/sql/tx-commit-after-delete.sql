-- tries: COMMIT after a DELETE, to make the delete permanent before review
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
DELETE FROM orders WHERE id < 4;
COMMIT;
