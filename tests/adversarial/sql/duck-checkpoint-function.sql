-- tries: checkpoint() as a table function after a write, to flush it to the file
-- expect: refused
-- backends: duckdb
-- message: Cannot CHECKPOINT
-- exit: 1
DELETE FROM orders WHERE id < 5;
SELECT * FROM checkpoint();
