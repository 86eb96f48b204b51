-- tries: EXPLAIN ANALYZE, which executes the DELETE it explains
-- expect: refused
-- backends: postgres, duckdb
-- message: does not recognise this kind of statement
EXPLAIN ANALYZE DELETE FROM orders
