-- tries: CHECKPOINT, which cannot run inside goex's transaction
-- expect: refused
-- backends: duckdb
-- message: cannot run inside a transaction block
CHECKPOINT
