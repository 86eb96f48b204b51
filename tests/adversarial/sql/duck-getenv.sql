-- tries: getenv to read the server's environment
-- expect: refused
-- backends: duckdb
-- message: getenv
SELECT getenv('HOME')
