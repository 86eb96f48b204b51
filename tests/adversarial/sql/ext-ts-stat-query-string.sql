-- tries: ts_stat running a query hidden in a string that reads a server file
-- expect: refused
-- backends: postgres
-- message: ts_stat
SELECT * FROM ts_stat('SELECT to_tsvector(pg_read_file(''/etc/hostname''))')
