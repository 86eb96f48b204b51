-- tries: CoMmIt AND CHAIN between two deletes, in mixed case
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
DELETE FROM orders WHERE id = 2; CoMmIt AnD cHaIn; DELETE FROM customers WHERE id = 2
