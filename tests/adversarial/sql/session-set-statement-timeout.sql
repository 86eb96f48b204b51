-- tries: SET LOCAL statement_timeout = 0, to outlive goex's timeout
-- expect: refused
-- backends: postgres
-- message: changes the session
SET LOCAL statement_timeout = 0; SELECT pg_sleep(3600)
