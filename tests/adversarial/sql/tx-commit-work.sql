-- tries: COMMIT WORK, the long form
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
UPDATE customers SET email = NULL WHERE id = 4; COMMIT WORK
