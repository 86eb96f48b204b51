-- tries: PREPARE TRANSACTION, to detach the work from the session and commit it later
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
DELETE FROM orders WHERE id = 7;
PREPARE TRANSACTION 'keep-me';
