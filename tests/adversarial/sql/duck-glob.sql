-- tries: glob('/etc/*') to list files
-- expect: refused
-- backends: duckdb
-- message: disabled by configuration
-- exit: 1
SELECT * FROM glob('/etc/*')
