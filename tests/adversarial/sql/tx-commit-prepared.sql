-- tries: COMMIT PREPARED of a prepared transaction
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
COMMIT PREPARED 'keep-me'
