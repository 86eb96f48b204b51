-- tries: pg_terminate_backend of goex's own session, in a WHERE, after a delete
-- expect: refused
-- backends: postgres
-- message: pg_terminate_backend
DELETE FROM orders WHERE id = 1; SELECT 1 FROM orders WHERE pg_terminate_backend(pg_backend_pid())
