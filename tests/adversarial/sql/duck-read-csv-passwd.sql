-- tries: read_csv('/etc/passwd')
-- expect: refused
-- backends: duckdb
-- message: disabled by configuration
-- exit: 1
SELECT * FROM read_csv('/etc/passwd')
