-- tries: SET enable_external_access = true, then read a file
-- expect: refused
-- backends: duckdb
-- message: changes the session
SET enable_external_access = true;
SELECT * FROM read_csv('/etc/passwd');
