-- tries: a file path used as a table name (a replacement scan, off with external access)
-- expect: refused
-- backends: duckdb
-- message: does not exist
-- exit: 1
SELECT * FROM '/etc/passwd'
