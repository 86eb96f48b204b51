-- tries: BEGIN ... COMMIT of its own inside goex's transaction
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
BEGIN; DELETE FROM orders WHERE id = 6; COMMIT;
