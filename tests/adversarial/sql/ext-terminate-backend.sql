-- tries: pg_terminate_backend of every other session
-- expect: refused
-- backends: postgres
-- message: pg_terminate_backend
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()
