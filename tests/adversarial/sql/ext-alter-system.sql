-- tries: ALTER SYSTEM, which writes postgresql.auto.conf
-- expect: refused
-- backends: postgres
-- message: cannot run inside a transaction block
ALTER SYSTEM SET log_statement = 'none'
