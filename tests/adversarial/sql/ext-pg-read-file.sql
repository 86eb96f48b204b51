-- tries: pg_read_file of /etc/passwd
-- expect: refused
-- backends: postgres
-- message: pg_read_file
SELECT pg_read_file('/etc/passwd')
