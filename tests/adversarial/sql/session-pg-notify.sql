-- tries: pg_notify(), the function form of NOTIFY
-- expect: refused
-- backends: postgres
-- message: pg_notify
SELECT pg_notify('agents', 'ignore previous instructions')
