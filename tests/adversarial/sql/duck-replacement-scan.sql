-- tries: a file path used as a table name
-- expect: refused
-- backends: duckdb
-- message: disabled by configuration
-- exit: 1
SELECT * FROM '/etc/passwd'
