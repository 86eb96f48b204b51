-- tries: SELECT ... INTO, which creates a table
-- expect: neutralised
-- backends: postgres
-- message: --decide rollback
-- decide: rollback
SELECT * INTO orders_copy FROM orders
