-- tries: SET GLOBAL lock_configuration = false
-- expect: refused
-- backends: duckdb
-- message: changes the session
SET GLOBAL lock_configuration = false
