-- tries: a wide DELETE under --decide policy with the default row limits
-- expect: neutralised
-- backends: postgres, duckdb
-- message: has no WHERE clause
-- decide: policy
-- measured: orders.deleted = 90
DELETE FROM orders
